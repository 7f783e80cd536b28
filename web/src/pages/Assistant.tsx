// The rules assistant: a question (optionally about one of your characters); the answer cites
// SRD passages, each [n] linking to its rule entry.
import { useId, useState, type FormEvent, type ReactNode } from "react";
import { Link } from "react-router-dom";
import type { AssistantAnswer, CharacterSummary, Citation, Page } from "../api/types";
import { useAuth } from "../auth";
import { Bold, ErrorSummary, FieldMessage, Loading, RichText, useLoad, useProblem, useTitle } from "../components/common";
import { entryPath } from "./RulesSearch";

/** A line of the answer with its [n] markers as links to the cited entries. */
export function withCitations(line: string, citations: Citation[]): ReactNode {
  const byNumber = new Map(citations.map((c) => [c.n, c]));
  const parts = line.split(/(\[\d+\])/g);
  return parts.map((part, i) => {
    const match = /^\[(\d+)\]$/.exec(part);
    const citation = match ? byNumber.get(Number(match[1])) : undefined;
    if (citation) {
      return (
        <sup key={i}>
          <Link to={entryPath(citation.url, citation.kind, citation.index)} aria-label={`Source ${citation.n}: ${citation.name}${citation.section ? `, ${citation.section}` : ""}`}>
            [{citation.n}]
          </Link>
        </sup>
      );
    }
    return <Bold key={i} text={part} />;
  });
}

export function AssistantPage() {
  useTitle("Rules assistant");
  const uid = useId();
  const { call } = useAuth();
  const characters = useLoad((signal) => call<Page<CharacterSummary>>("/api/characters", { signal, query: { limit: 100 } }), []);
  const [question, setQuestion] = useState("");
  const [characterId, setCharacterId] = useState("");
  const [answer, setAnswer] = useState<AssistantAnswer | null>(null);
  const [busy, setBusy] = useState(false);
  const { shown, run, forField } = useProblem();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    const body: Record<string, string> = { question };
    if (characterId) body.character_id = characterId;
    const result = await run(() => call<AssistantAnswer>("/api/assistant/ask", { method: "POST", body }));
    setBusy(false);
    if (result) setAnswer(result);
  };

  const questionErrors = forField("question");
  return (
    <div className="narrow">
      <h1>Ask the rules assistant</h1>
      <ErrorSummary shown={shown} handled={(f) => f === "question" || f === "character_id"} />
      <form onSubmit={submit} className="form">
        <div className="field">
          <label htmlFor={`${uid}-q`}>Your question</label>
          <textarea
            id={`${uid}-q`}
            rows={3}
            required
            value={question}
            placeholder="How does grappling work?"
            onChange={(e) => setQuestion(e.target.value)}
            aria-invalid={questionErrors.length ? true : undefined}
            aria-describedby={questionErrors.length ? `${uid}-q-error` : undefined}
          />
          <FieldMessage id={`${uid}-q-error`} messages={questionErrors} />
        </div>
        <div className="field">
          <label htmlFor={`${uid}-c`}>About a character (optional)</label>
          <select id={`${uid}-c`} value={characterId} onChange={(e) => setCharacterId(e.target.value)}>
            <option value="">No one in particular</option>
            {(characters.data?.items ?? []).map((c) => (
              <option key={c.id} value={c.id}>
                {c.name} (level {c.level})
              </option>
            ))}
          </select>
          <FieldMessage id={`${uid}-c-error`} messages={forField("character_id")} />
        </div>
        <button type="submit" className="button primary" disabled={busy || !question.trim()}>
          {busy ? "Thinking…" : "Ask"}
        </button>
      </form>
      <section aria-live="polite" aria-busy={busy} className="answer">
        {busy && <Loading label="Consulting the tomes…" />}
        {answer && !busy && (
          <div className="card">
            <h2>Answer</h2>
            <RichText text={answer.answer} renderInline={(line) => withCitations(line, answer.citations)} />
            {answer.citations.length > 0 && (
              <>
                <h3>Sources</h3>
                <ol className="citations">
                  {answer.citations.map((c) => (
                    <li key={c.n} value={c.n}>
                      <Link to={entryPath(c.url, c.kind, c.index)}>
                        {c.name}
                        {c.section ? ` — ${c.section}` : ""}
                      </Link>{" "}
                      <small className="muted">({c.kind})</small>
                    </li>
                  ))}
                </ol>
              </>
            )}
            <p className="muted">
              <small>Answered by the {answer.provider} provider.</small>
            </p>
          </div>
        )}
      </section>
    </div>
  );
}
