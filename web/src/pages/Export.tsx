// Export a character: a JSON document (re-importable), a PDF sheet, a Foundry VTT actor.
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { download, saveBlob } from "../api/client";
import type { Character } from "../api/types";
import { useAuth } from "../auth";
import { ErrorSummary, Loading, useLoad, useProblem, useTitle } from "../components/common";

const FORMATS = [
  { format: "json", label: "JSON", ext: "json", desc: "The whole character as a versioned document; import it back here at any time." },
  { format: "pdf", label: "PDF", ext: "pdf", desc: "A printable one-page character sheet." },
  { format: "foundry", label: "Foundry VTT", ext: "json", desc: "An actor for Foundry Virtual Tabletop's dnd5e system." },
] as const;

export function ExportPage() {
  const { id = "" } = useParams();
  const { call, session } = useAuth();
  const loaded = useLoad((signal) => call<Character>(`/api/characters/${id}`, { signal }), [id]);
  useTitle(loaded.data ? `Export ${loaded.data.name}` : "Export");
  const { shown, run } = useProblem();
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState<string | null>(null);

  const get = async (format: string, ext: string) => {
    setBusy(format);
    setStatus("");
    const file = await run(() => download(`/api/characters/${id}/export`, { token: session?.token, query: { format } }));
    setBusy(null);
    if (file) {
      const name = file.filename ?? `${(loaded.data?.name ?? "character").replace(/[^\w-]+/g, "-").toLowerCase()}.${ext}`;
      saveBlob(file.blob, name);
      setStatus(`Downloaded ${name}.`);
    }
  };

  return (
    <div className="narrow">
      <h1>Export {loaded.data ? loaded.data.name : "a character"}</h1>
      <ErrorSummary shown={shown ?? loaded.error} />
      {!loaded.data && !loaded.error && <Loading />}
      <ul className="card-list">
        {FORMATS.map(({ format, label, ext, desc }) => (
          <li key={format} className="card row">
            <div>
              <strong>{label}</strong>
              <br />
              <span className="muted">{desc}</span>
            </div>
            <button type="button" className="button primary" disabled={busy !== null} onClick={() => get(format, ext)}>
              {busy === format ? "Preparing…" : `Download ${label}`}
            </button>
          </li>
        ))}
      </ul>
      <p role="status" className="saved">
        {status}
      </p>
      <p>
        <Link to={`/characters/${id}`}>Back to the sheet</Link>
      </p>
    </div>
  );
}
