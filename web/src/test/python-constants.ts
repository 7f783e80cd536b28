// Reads constants from the api's Python sources, so the front end's copies cannot drift.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export function pythonSource(relative: string): string {
  return readFileSync(resolve(ROOT, relative), "utf8");
}

/** The string items of a tuple constant: NAME: tuple[str, ...] = ("a", "b", OTHER, ...). */
export function pythonTuple(source: string, name: string, names: Record<string, string> = {}): string[] {
  const match = new RegExp(`^${name}(?::[^=]+)?=\\s*\\(([\\s\\S]*?)\\)`, "m").exec(source);
  if (!match) throw new Error(`${name} not found`);
  return match[1]
    .split(",")
    .map((item) => item.replace(/#.*$/gm, "").trim())
    .filter(Boolean)
    .map((item) => {
      const quoted = /^"([^"]*)"$/.exec(item);
      if (quoted) return quoted[1];
      if (item in names) return names[item];
      throw new Error(`cannot read ${item} in ${name}`);
    });
}
