// Small shared pieces: problem display (summary + per-field messages), loading, data hooks.
import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { ApiError, fieldErrors } from "../api/client";

/** An index as a readable name: "healing-word" -> "Healing Word". */
export function titleCase(index: string | null | undefined): string {
  if (!index) return "";
  return index
    .split("-")
    .map((word) => (word ? word[0].toUpperCase() + word.slice(1) : word))
    .join(" ");
}

export function signed(value: number): string {
  return value >= 0 ? `+${value}` : `−${Math.abs(value)}`;
}

/** The page's document title. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · The Hero Foundry` : "The Hero Foundry";
  }, [title]);
}

/** An error to show: an ApiError's problem (with per-field reasons) or any other Error. */
export interface Shown {
  message: string;
  fields: Record<string, string[]>;
}

export function toShown(error: unknown): Shown | null {
  if (!error) return null;
  if (error instanceof ApiError) return { message: error.message, fields: fieldErrors(error.errors) };
  if (error instanceof Error) return { message: error.message, fields: {} };
  return { message: String(error), fields: {} };
}

/** Holds the last failure; `run` wraps an action, clearing and catching. */
export function useProblem() {
  const [shown, setShown] = useState<Shown | null>(null);
  const run = useCallback(async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setShown(null);
    try {
      return await action();
    } catch (error) {
      setShown(toShown(error));
      return undefined;
    }
  }, []);
  const forField = useCallback(
    (...names: string[]): string[] => names.flatMap((name) => shown?.fields[name] ?? []),
    [shown],
  );
  return { shown, setShown, run, forField };
}

/** The alert for a failed action: its message and the reasons no field on screen shows
 * (`handled`: predicate for the fields shown next to their inputs). Focused when it appears. */
export function ErrorSummary({
  shown,
  handled = () => false,
  title = "That did not work",
}: {
  shown: Shown | null;
  handled?: (field: string) => boolean;
  title?: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (shown) ref.current?.focus();
  }, [shown]);
  const others = shown ? Object.entries(shown.fields).filter(([field]) => !handled(field)) : [];
  const fieldCount = shown ? Object.keys(shown.fields).length : 0;
  return (
    <div role="alert" aria-live="assertive" className={shown ? "error-summary" : "visually-hidden"} tabIndex={-1} ref={ref}>
      {shown && (
        <>
          <p className="error-title">{title}</p>
          <p>{shown.message}</p>
          {fieldCount > others.length && <p>The problems are marked next to the fields below.</p>}
          {others.length > 0 && (
            <ul>
              {others.map(([field, reasons]) =>
                reasons.map((reason) => (
                  <li key={`${field}:${reason}`}>
                    <code>{field}</code>: {reason}
                  </li>
                )),
              )}
            </ul>
          )}
        </>
      )}
    </div>
  );
}

/** Reasons shown under one input; give the same id to the input's aria-describedby. */
export function FieldMessage({ id, messages }: { id: string; messages: string[] }) {
  if (!messages.length) return null;
  return (
    <div id={id} className="field-error">
      {messages.map((message) => (
        <p key={message}>
          <span aria-hidden="true">⚠ </span>
          {message}
        </p>
      ))}
    </div>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> {label}
    </p>
  );
}

/** Load data once per `deps`; `reload` fetches again. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<Shown | null>(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setError(null);
    load(controller.signal).then(
      (value) => {
        if (!controller.signal.aborted) setData(value);
      },
      (failure) => {
        if (!controller.signal.aborted) setError(toShown(failure));
      },
    );
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, version]);
  const reload = useCallback(() => setVersion((v) => v + 1), []);
  return { data, setData, error, reload };
}

export function Card({ title, children, className = "" }: { title?: ReactNode; children: ReactNode; className?: string }) {
  return (
    <section className={`card ${className}`}>
      {title && <h2>{title}</h2>}
      {children}
    </section>
  );
}

/** SRD snippets mark hits as <mark>…</mark>: render those as marks, everything else as text
 * (never as HTML). */
/** A snippet's Markdown punctuation out (headings' #, emphasis asterisks, blank lines). */
export function plainSnippet(text: string): string {
  return text
    .replace(/^\s*#{1,6}\s+/gm, "")
    .replace(/\*{1,3}([^*\n]+?)\*{1,3}/g, "$1")
    .replace(/\n{2,}/g, "\n");
}

export function Snippet({ text }: { text: string }) {
  const parts = plainSnippet(text).split(/(<mark>.*?<\/mark>)/g);
  return (
    <>
      {parts.map((part, i) => {
        const match = /^<mark>(.*)<\/mark>$/.exec(part);
        return match ? <mark key={i}>{match[1]}</mark> : <span key={i}>{part}</span>;
      })}
    </>
  );
}

/** A little Markdown as the SRD text uses it (headings, lists, **bold**, tables as text),
 * rendered as React elements, never as HTML. */
export function RichText({ text, renderInline }: { text: string; renderInline?: (line: string) => ReactNode }) {
  const inline = renderInline ?? ((line: string) => <Bold text={line} />);
  const blocks = text.split(/\n{2,}/);
  return (
    <div className="rich-text">
      {blocks.map((block, i) => {
        const heading = /^(#{1,6})\s+(.*)$/.exec(block.trim());
        if (heading) {
          const level = Math.min(6, heading[1].length + 1);
          const Tag = `h${Math.max(3, level)}` as "h3";
          return <Tag key={i}>{inline(heading[2])}</Tag>;
        }
        const lines = block.split("\n");
        if (lines.every((line) => /^\s*[-*]\s+/.test(line))) {
          return (
            <ul key={i}>
              {lines.map((line, j) => (
                <li key={j}>{inline(line.replace(/^\s*[-*]\s+/, ""))}</li>
              ))}
            </ul>
          );
        }
        return (
          <p key={i}>
            {lines.map((line, j) => (
              <span key={j}>
                {j > 0 && <br />}
                {inline(line)}
              </span>
            ))}
          </p>
        );
      })}
    </div>
  );
}

export function Bold({ text }: { text: string }) {
  const parts = text.split(/(\*\*[^*]+\*\*|\*[^*\s][^*]*\*)/g);
  return (
    <>
      {parts.map((part, i) => {
        if (/^\*\*[^*]+\*\*$/.test(part)) return <strong key={i}>{part.slice(2, -2)}</strong>;
        if (/^\*[^*\s][^*]*\*$/.test(part)) return <em key={i}>{part.slice(1, -1)}</em>;
        return <span key={i}>{part}</span>;
      })}
    </>
  );
}
