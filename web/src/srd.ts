// The SRD catalogue (public, read-only): fetched once per page load and kept.
import { api } from "./api/client";
import type { Alignment, EquipmentItem, Page, Spell, SrdBackground, SrdClass, SrdRace } from "./api/types";

const cache = new Map<string, Promise<unknown>>();

function cached<T>(path: string): Promise<T> {
  let found = cache.get(path) as Promise<T> | undefined;
  if (!found) {
    found = api<T>(path);
    cache.set(path, found);
    found.catch(() => cache.delete(path)); // a failure is not kept
  }
  return found;
}

export const srd = {
  races: () => cached<SrdRace[]>("/api/srd/races"),
  classes: () => cached<SrdClass[]>("/api/srd/classes"),
  backgrounds: () => cached<SrdBackground[]>("/api/srd/backgrounds"),
  alignments: () => cached<Alignment[]>("/api/srd/alignments"),
  /** Every spell of a class's list (cantrips included), by level then name. */
  classSpells: async (klass: string): Promise<Spell[]> => {
    const spells: Spell[] = [];
    for (let offset = 0; ; offset += 500) {
      const page = await cached<Page<Spell>>(`/api/srd/spells?class=${encodeURIComponent(klass)}&limit=500&offset=${offset}`);
      spells.push(...page.items);
      if (spells.length >= page.total || page.items.length === 0) return spells;
    }
  },
  equipment: (q: string) => api<Page<EquipmentItem>>("/api/srd/equipment", { query: { q, limit: 20 } }),
};

/** For tests: forget what was fetched. */
export function clearSrdCache(): void {
  cache.clear();
}
