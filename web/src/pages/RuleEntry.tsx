import { Link, useParams } from "react-router-dom";
import { api } from "../api/client";
import type { RuleEntry } from "../api/types";
import { ErrorSummary, Loading, RichText, titleCase, useLoad, useTitle } from "../components/common";

export function RuleEntryPage() {
  const { kind = "", index = "" } = useParams();
  const entry = useLoad(
    (signal) => api<RuleEntry>(`/api/rules/${encodeURIComponent(kind)}/${encodeURIComponent(index)}`, { signal }),
    [kind, index],
  );
  useTitle(entry.data?.name ?? titleCase(index));
  return (
    <article className="rule-entry narrow">
      <p className="breadcrumb">
        <Link to="/rules">Rules</Link> › {titleCase(kind)}
      </p>
      <h1>{entry.data?.name ?? titleCase(index)}</h1>
      <ErrorSummary shown={entry.error} />
      {!entry.data && !entry.error && <Loading />}
      {entry.data && (
        <>
          <RichText text={entry.data.text} />
          <p className="attribution">{entry.data.attribution}</p>
        </>
      )}
    </article>
  );
}
