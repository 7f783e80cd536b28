#!/usr/bin/env node
// Captures REAL api responses as test fixtures (web/src/test/fixtures/*.json).
//
//   HERO_FOUNDRY_API=http://127.0.0.1:8000 npm run fixtures
//
// Needs a running api (`hero-foundry db upgrade && hero-foundry serve`); it registers a
// throw-away account (random e-mail), walks the README's session (a Hill Dwarf Life Cleric,
// levelled to 2) and a Human Fighter whose equipment bundle opens a sub-choice (levelled to 4:
// subclass and Ability Score Improvement views, a refused ASI, a refused multiclass), and saves
// what each step answered. Ids, timestamps and rolled hit points are whatever the api returned.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const BASE = (process.env.HERO_FOUNDRY_API || "http://127.0.0.1:8000").replace(/\/$/, "");
const OUT = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "test", "fixtures");
let token = null;

async function call(method, path, body, expect) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const reply = await fetch(BASE + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await reply.text();
  const data = text ? JSON.parse(text) : null;
  const ok = expect ? expect.includes(reply.status) : reply.ok;
  if (!ok) throw new Error(`${method} ${path}: ${reply.status} ${text.slice(0, 500)}`);
  return data;
}

async function save(name, data) {
  await writeFile(join(OUT, `${name}.json`), JSON.stringify(data, null, 1) + "\n");
  console.log(`wrote ${name}.json`);
}

await mkdir(OUT, { recursive: true });
const email = `fixtures-${Date.now()}@example.com`;
const password = "correct horse battery staple";
await call("POST", "/api/auth/register", { email, password });
token = (await call("POST", "/api/auth/login", { email, password })).access_token;

// The cleric of the README, step by step.
let draft = await call("POST", "/api/characters/drafts");
await save("draft-new", draft);
const D = `/api/characters/drafts/${draft.id}`;
await call("PUT", `${D}/race`, { race: "dwarf", subrace: "hill-dwarf" });
await call("PUT", `${D}/class`, { class: "cleric", subclass: "life" });
await call("PUT", `${D}/background`, { background: "acolyte" });
draft = await call("PUT", `${D}/ability-scores`, {
  method: "standard_array",
  scores: { str: 14, dex: 8, con: 13, int: 10, wis: 15, cha: 12 },
});
await save("draft-cleric-choices", draft);
await save(
  "problem-choice-refused",
  await call(
    "PUT",
    `${D}/choices`,
    { selections: { "class:proficiencies:0": ["skill-insight", "skill-history"] } },
    [422],
  ),
);
draft = await call("PUT", `${D}/choices`, {
  selections: {
    "trait:tool-proficiency": ["smiths-tools"],
    "class:proficiencies:0": ["skill-history", "skill-medicine"],
    "class:equipment:0": ["warhammer"],
    "class:equipment:1": ["chain-mail"],
    "class:equipment:2": ["a"],
    "class:equipment:3": ["priests-pack"],
    "class:equipment:4": ["amulet"],
    "background:languages": ["elvish", "celestial"],
    "background:equipment:0": ["emblem"],
  },
});
await save("draft-cleric-spells", draft);
await save(
  "problem-spell-refused",
  await call(
    "PUT",
    `${D}/spells`,
    { cantrips: ["guidance", "sacred-flame", "spare-the-dying"], prepared: ["bless"] },
    [422],
  ),
);
await call("PUT", `${D}/spells`, {
  cantrips: ["guidance", "sacred-flame", "spare-the-dying"],
  prepared: ["healing-word", "guiding-bolt", "shield-of-faith", "sanctuary"],
});
draft = await call("PUT", `${D}/details`, { name: "Brottor Ironfist", alignment: "lawful-good" });
await save("draft-complete", draft);
const character = await call("POST", `${D}/finalize`, undefined, [201]);
await save("character", character);

// A fighter: bundle "a" of the first equipment choice opens sub-choices (a martial weapon).
let fighter = await call("POST", "/api/characters/drafts");
const F = `/api/characters/drafts/${fighter.id}`;
await call("PUT", `${F}/race`, { race: "human" });
fighter = await call("PUT", `${F}/class`, { class: "fighter" });
const bundle = fighter.choices.find((c) => c.options.some((o) => o.then_choose));
if (bundle) {
  const option = bundle.options.find((o) => o.then_choose);
  fighter = await call("PUT", `${F}/choices`, { selections: { [bundle.id]: [option.key] } });
}
await save("draft-fighter-subchoices", fighter);
await save("drafts-list", await call("GET", "/api/characters/drafts"));

// Level-up: the cleric from 1 to 2 (hit points only).
const C = `/api/characters/${character.id}`;
let levelUp = await call("POST", `${C}/level-ups`, { class: "cleric" }, [201]);
await save("level-up-new", levelUp);
levelUp = await call("PUT", `${C}/level-ups/${levelUp.id}/hit-points`, { method: "average" });
await save("level-up-ready", levelUp);
const levelled = await call("POST", `${C}/level-ups/${levelUp.id}/commit`);
await save("character-level-2", levelled);
await save("characters-list", await call("GET", "/api/characters"));
await save("level-ups-list", await call("GET", `${C}/level-ups`));

// The fighter, finished, then levelled: level 3 asks for a subclass, level 4 for an Ability
// Score Improvement or a feat.
const answer = async (view, url) => {
  // the first options that the api accepts, choice by choice (sub-choices open as we go)
  for (let round = 0; round < 30; round++) {
    const open = view.choices.find((c) => c.selected === null);
    if (!open) return view;
    const keys = open.options.map((o) => o.key);
    let done = false;
    for (let start = 0; start + open.choose <= keys.length && !done; start++) {
      const picks = keys.slice(start, start + open.choose);
      try {
        view = await call("PUT", url, { selections: { [open.id]: picks } });
        done = true;
      } catch {
        /* refused: try the next options */
      }
    }
    if (!done) throw new Error(`no accepted answer for ${open.id}`);
  }
  return view;
};
await call("PUT", `${F}/background`, { background: "acolyte" });
fighter = await call("PUT", `${F}/ability-scores`, {
  method: "point_buy",
  scores: { str: 15, dex: 14, con: 13, int: 8, wis: 10, cha: 10 },
});
fighter = await answer(fighter, `${F}/choices`);
await call("PUT", `${F}/details`, { name: "Ser Aldric", alignment: "neutral-good" });
const knight = await call("POST", `${F}/finalize`, undefined, [201]);
const K = `/api/characters/${knight.id}`;
for (let level = 2; level <= 4; level++) {
  let view = await call("POST", `${K}/level-ups`, { class: "fighter" }, [201]);
  const L = `${K}/level-ups/${view.id}`;
  view = await call("PUT", `${L}/hit-points`, { method: "rolled" });
  if (view.subclass_options.length) {
    await save("level-up-subclass", view);
    view = await call("PUT", `${L}/subclass`, { subclass: view.subclass_options[0] });
  }
  if (view.ability_score_improvement.available) {
    await save("level-up-asi", view);
    await save("problem-asi-refused", await call("PUT", `${L}/ability-scores`, { increases: { str: 3 } }, [422]));
    view = await call("PUT", `${L}/ability-scores`, { increases: { str: 1, con: 1 } });
  }
  view = await answer(view, `${L}/choices`);
  await call("POST", `${L}/commit`);
}
await save("multiclass-refused", await call("POST", `${K}/level-ups`, { class: "wizard" }, [422]));

// Rule search and the assistant.
await save("rules-search", await call("GET", "/api/rules/search?q=grappled&limit=5"));
await save("rules-search-typo", await call("GET", "/api/rules/search?q=fireboll&limit=3"));
await save("rule-entry", await call("GET", "/api/rules/condition/grappled"));
await save(
  "assistant-answer",
  await call("POST", "/api/assistant/ask", {
    question: "How does grappling work?",
    character_id: character.id,
  }),
);
await save("export", await call("GET", `${C}/export?format=json`));
console.log("done: fixtures in", OUT);
