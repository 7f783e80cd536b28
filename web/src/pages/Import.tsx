// Import a JSON export (from this site or another instance): validated by the api, which
// replays every level, then created as a new character of yours.
import { useId, useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";
import type { Character } from "../api/types";
import { useAuth } from "../auth";
import { ErrorSummary, FieldMessage, useProblem, useTitle } from "../components/common";

export function ImportPage() {
  useTitle("Import a character");
  const uid = useId();
  const { call } = useAuth();
  const navigate = useNavigate();
  const [text, setText] = useState("");
  const [parseError, setParseError] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const { shown, run } = useProblem();

  const readFile = async (file: File | undefined) => {
    if (!file) return;
    setText(await file.text());
    setParseError([]);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      setParseError(["This is not JSON: choose the .json file an export downloaded."]);
      return;
    }
    setParseError([]);
    setBusy(true);
    const created = await run(() => call<Character>("/api/characters/import", { method: "POST", body: document }));
    setBusy(false);
    if (created) navigate(`/characters/${created.id}`);
  };

  return (
    <div className="narrow">
      <h1>Import a character</h1>
      <p>Choose a JSON export (“Export → JSON” on a character sheet). The rules check every level again before it becomes yours.</p>
      <ErrorSummary shown={shown} />
      <form onSubmit={submit} className="form">
        <div className="field">
          <label htmlFor={`${uid}-file`}>Export file (.json)</label>
          <input id={`${uid}-file`} type="file" accept="application/json,.json" onChange={(e) => readFile(e.target.files?.[0])} />
        </div>
        <div className="field">
          <label htmlFor={`${uid}-text`}>…or paste its content</label>
          <textarea
            id={`${uid}-text`}
            rows={8}
            className="mono"
            value={text}
            onChange={(e) => setText(e.target.value)}
            aria-invalid={parseError.length ? true : undefined}
            aria-describedby={parseError.length ? `${uid}-error` : undefined}
          />
          <FieldMessage id={`${uid}-error`} messages={parseError} />
        </div>
        <button type="submit" className="button primary" disabled={busy || !text.trim()}>
          {busy ? "Importing…" : "Import"}
        </button>
      </form>
    </div>
  );
}
