// My characters: the finished ones and the unfinished drafts (resume or abandon), a new one.
import { useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import type { CharacterSummary, Draft, DraftSummary, Page } from "../api/types";
import { useAuth } from "../auth";
import { ErrorSummary, Loading, titleCase, useLoad, useProblem, useTitle } from "../components/common";

function draftLabel(draft: DraftSummary): string {
  const c = draft.chosen;
  const parts = [c.details?.name, titleCase(c.subrace ?? c.race), titleCase(c.class)].filter(Boolean);
  return parts.length ? parts.join(" · ") : "A new hero (nothing chosen yet)";
}

export function CharactersPage() {
  useTitle("My characters");
  const { call } = useAuth();
  const navigate = useNavigate();
  const { shown, run } = useProblem();
  const [busy, setBusy] = useState(false);
  const characters = useLoad((signal) => call<Page<CharacterSummary>>("/api/characters", { signal, query: { limit: 100 } }), []);
  const drafts = useLoad((signal) => call<DraftSummary[]>("/api/characters/drafts", { signal }), []);

  const start = async () => {
    setBusy(true);
    const draft = await run(() => call<Draft>("/api/characters/drafts", { method: "POST" }));
    setBusy(false);
    if (draft) navigate(`/create/${draft.id}/race`);
  };

  return (
    <div>
      <div className="page-head">
        <h1>My characters</h1>
        <div className="actions">
          <button type="button" className="button primary" onClick={start} disabled={busy}>
            New character
          </button>
          <Link className="button" to="/import">
            Import a JSON export
          </Link>
        </div>
      </div>
      <ErrorSummary shown={shown ?? characters.error ?? drafts.error} />
      <section aria-labelledby="drafts-heading">
        <h2 id="drafts-heading">Unfinished drafts</h2>
        {!drafts.data ? (
          <Loading />
        ) : drafts.data.length === 0 ? (
          <p className="muted">No unfinished drafts.</p>
        ) : (
          <ul className="card-list">
            {drafts.data.map((draft) => (
              <li key={draft.id} className="card row">
                <div>
                  <strong>{draftLabel(draft)}</strong>
                  <br />
                  <small className="muted">
                    started {new Date(draft.started_at).toLocaleString()}, last change {new Date(draft.updated_at).toLocaleString()}
                  </small>
                </div>
                <div className="actions">
                  <Link className="button" to={`/create/${draft.id}`}>
                    Resume<span className="visually-hidden"> {draftLabel(draft)}</span>
                  </Link>
                  <button
                    type="button"
                    className="button danger"
                    onClick={async () => {
                      if (!window.confirm("Abandon this draft? Its choices are lost.")) return;
                      await run(() => call(`/api/characters/drafts/${draft.id}`, { method: "DELETE" }));
                      drafts.reload();
                    }}
                  >
                    Abandon<span className="visually-hidden"> draft {draftLabel(draft)}</span>
                  </button>
                </div>
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="characters-heading">
        <h2 id="characters-heading">Characters</h2>
        {!characters.data ? (
          <Loading />
        ) : characters.data.items.length === 0 ? (
          <p className="muted">No characters yet: start with “New character”.</p>
        ) : (
          <ul className="card-list characters">
            {characters.data.items.map((c) => (
              <li key={c.id} className="card row">
                <div>
                  <Link to={`/characters/${c.id}`} className="character-name">
                    {c.name}
                  </Link>
                  <br />
                  <span>
                    Level {c.level} {titleCase(c.subrace ?? c.race)} {titleCase(c.class)}
                    {c.subclass ? ` (${titleCase(c.subclass)})` : ""}
                  </span>
                </div>
                <div className="actions">
                  <Link className="button" to={`/characters/${c.id}/level-up`}>
                    Level up<span className="visually-hidden"> {c.name}</span>
                  </Link>
                  <button
                    type="button"
                    className="button danger"
                    onClick={async () => {
                      if (!window.confirm(`Delete ${c.name}? This cannot be undone.`)) return;
                      await run(() => call(`/api/characters/${c.id}`, { method: "DELETE" }));
                      characters.reload();
                    }}
                  >
                    Delete<span className="visually-hidden"> {c.name}</span>
                  </button>
                </div>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
