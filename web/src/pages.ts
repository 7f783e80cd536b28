// Page names for real-user monitoring: exactly the api's allow-list (PAGE_NAMES in
// src/hero_foundry/observability/telemetry.py, docs/telemetry.md); a test compares the two.
// A name the api does not know would be counted as `other` anyway; we send `other` ourselves.

export const PAGE_NAMES = [
  "home",
  "sign-in",
  "sign-up",
  "characters",
  "character-sheet",
  "wizard-race",
  "wizard-class",
  "wizard-background",
  "wizard-abilities",
  "wizard-skills",
  "wizard-equipment",
  "wizard-spells",
  "wizard-details",
  "wizard-review",
  "level-up",
  "rules-search",
  "rule-entry",
  "assistant",
  "import",
  "export",
  "other",
] as const;

export type PageName = (typeof PAGE_NAMES)[number];
const KNOWN = new Set<string>(PAGE_NAMES);

export function allowedPage(name: string): PageName {
  return KNOWN.has(name) ? (name as PageName) : "other";
}

/** The page name of a location of this app (its routes, App.tsx). */
export function pageNameFor(pathname: string): PageName {
  const path = pathname.replace(/\/+$/, "") || "/";
  if (path === "/") return "home";
  if (path === "/sign-in") return "sign-in";
  if (path === "/sign-up") return "sign-up";
  if (path === "/characters") return "characters";
  if (path === "/import") return "import";
  if (path === "/rules") return "rules-search";
  if (path === "/assistant") return "assistant";
  let match = /^\/rules\/[^/]+\/[^/]+$/.exec(path);
  if (match) return "rule-entry";
  match = /^\/create\/[^/]+\/([^/]+)$/.exec(path);
  if (match) return allowedPage(`wizard-${match[1]}`);
  if (/^\/characters\/[^/]+$/.test(path)) return "character-sheet";
  if (/^\/characters\/[^/]+\/level-up$/.test(path)) return "level-up";
  if (/^\/characters\/[^/]+\/export$/.test(path)) return "export";
  return "other";
}
