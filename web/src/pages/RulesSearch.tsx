// Rule search: ranked SRD entries with highlighted snippets; filters by kind, spell level,
// class and school; typo correction; the query lives in the URL (shareable, back button).
import { useEffect, useId, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api } from "../api/client";
import type { SearchPage, SrdClass } from "../api/types";
import { ErrorSummary, Loading, Snippet, titleCase, toShown, useTitle, type Shown } from "../components/common";
import { srd } from "../srd";

export const KINDS = ["rule", "condition", "spell", "feature", "trait", "race", "class", "equipment", "magic-item"];
export const SCHOOLS = ["abjuration", "conjuration", "divination", "enchantment", "evocation", "illusion", "necromancy", "transmutation"];
const LIMIT = 20;

/** "/api/rules/spell/fireball" -> "/rules/spell/fireball" (this app's entry page). */
export function entryPath(url: string, kind?: string, index?: string): string {
  const match = /^\/api\/rules\/([^/]+)\/([^/?#]+)/.exec(url);
  if (match) return `/rules/${match[1]}/${match[2]}`;
  return `/rules/${kind}/${index}`;
}

export function RulesSearchPage() {
  useTitle("Rules");
  const uid = useId();
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const [draft, setDraft] = useState({
    q,
    kind: params.get("kind") ?? "",
    level: params.get("level") ?? "",
    class: params.get("class") ?? "",
    school: params.get("school") ?? "",
  });
  const offset = Number(params.get("offset") ?? 0) || 0;
  const [page, setPage] = useState<SearchPage | null>(null);
  const [error, setError] = useState<Shown | null>(null);
  const [loading, setLoading] = useState(false);
  const [classes, setClasses] = useState<SrdClass[]>([]);

  useEffect(() => {
    srd.classes().then(setClasses, () => setClasses([]));
  }, []);

  useEffect(() => {
    if (!q) {
      setPage(null);
      return;
    }
    const controller = new AbortController();
    setLoading(true);
    setError(null);
    api<SearchPage>("/api/rules/search", {
      signal: controller.signal,
      query: {
        q,
        kind: params.get("kind"),
        level: params.get("level"),
        class: params.get("class"),
        school: params.get("school"),
        limit: LIMIT,
        offset,
      },
    }).then(
      (result) => {
        setPage(result);
        setLoading(false);
      },
      (failure) => {
        if (controller.signal.aborted) return;
        setError(toShown(failure));
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [params, q, offset]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [key, value] of Object.entries(draft)) if (value.trim()) next.set(key, value.trim());
    setParams(next);
  };

  const goTo = (newOffset: number) => {
    const next = new URLSearchParams(params);
    if (newOffset) next.set("offset", String(newOffset));
    else next.delete("offset");
    setParams(next);
  };

  return (
    <div>
      <h1>Search the rules</h1>
      <form role="search" onSubmit={submit} className="form search-form" aria-label="Rules">
        <div className="field grow">
          <label htmlFor={`${uid}-q`}>Words to look for</label>
          <input id={`${uid}-q`} type="search" value={draft.q} maxLength={200} placeholder="grappled, fireball, sneak attack…" onChange={(e) => setDraft({ ...draft, q: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor={`${uid}-kind`}>Kind</label>
          <select id={`${uid}-kind`} value={draft.kind} onChange={(e) => setDraft({ ...draft, kind: e.target.value })}>
            <option value="">Any</option>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {titleCase(k)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${uid}-level`}>Spell level</label>
          <select id={`${uid}-level`} value={draft.level} onChange={(e) => setDraft({ ...draft, level: e.target.value })}>
            <option value="">Any</option>
            {Array.from({ length: 10 }, (_, level) => (
              <option key={level} value={String(level)}>
                {level === 0 ? "Cantrip" : level}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${uid}-class`}>Class</label>
          <select id={`${uid}-class`} value={draft.class} onChange={(e) => setDraft({ ...draft, class: e.target.value })}>
            <option value="">Any</option>
            {classes.map((c) => (
              <option key={c.index} value={c.index}>
                {c.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${uid}-school`}>School</label>
          <select id={`${uid}-school`} value={draft.school} onChange={(e) => setDraft({ ...draft, school: e.target.value })}>
            <option value="">Any</option>
            {SCHOOLS.map((s) => (
              <option key={s} value={s}>
                {titleCase(s)}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="button primary">
          Search
        </button>
      </form>
      <ErrorSummary shown={error} />
      <div aria-live="polite" aria-busy={loading}>
        {loading && <Loading label="Searching…" />}
        {page && !loading && (
          <>
            <p className="result-count">
              {page.total} result{page.total === 1 ? "" : "s"} for “{page.query}”
              {page.corrected_query && (
                <>
                  {" "}
                  — showing results for <strong>{page.corrected_query}</strong>
                </>
              )}
            </p>
            <ol className="results" start={offset + 1}>
              {page.items.map((hit) => (
                <li key={`${hit.kind}/${hit.index}`} className="card result">
                  <h2 className="result-title">
                    <Link to={entryPath(hit.url, hit.kind, hit.index)}>{hit.name}</Link> <span className="tag">{titleCase(hit.kind)}</span>
                  </h2>
                  <p className="snippet">
                    <Snippet text={hit.snippet} />
                  </p>
                </li>
              ))}
            </ol>
            {page.total > LIMIT && (
              <nav aria-label="Result pages" className="pager">
                <button type="button" className="button" disabled={offset === 0} onClick={() => goTo(Math.max(0, offset - LIMIT))}>
                  Previous
                </button>
                <span>
                  {offset + 1}–{Math.min(offset + LIMIT, page.total)} of {page.total}
                </span>
                <button type="button" className="button" disabled={offset + LIMIT >= page.total} onClick={() => goTo(offset + LIMIT)}>
                  Next
                </button>
              </nav>
            )}
            {page.attribution && <p className="attribution">{page.attribution}</p>}
          </>
        )}
      </div>
    </div>
  );
}
