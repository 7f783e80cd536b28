// The player's journey through the real web tier and api, in Debian's Chromium: sign up, build
// a half-elf warlock through every wizard step, read the sheet, level up, search the rules,
// ask the assistant, export a PDF, import a JSON export, and a second player who cannot see
// the first one's characters; then the api's /metrics must show the browser's real-user
// monitoring, and no page may have logged a JavaScript error it was not expected to.
//
// The tests run in order and share the first player (node:test runs a file's tests one after
// the other); one whose earlier test failed is skipped, saying which result it missed.
// Selectors are what a player (or a screen reader) sees: roles, labels, text.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import {
  apiGet,
  apiMetrics,
  BASE_URL,
  eventually,
  launch,
  openUser,
  PHONE,
  saveFailure,
  screenshot,
  total,
  uniqueEmail,
} from "../lib/harness.mjs";

const PASSWORD = "correct horse battery staple";
const HERO = "Vex Emberwhisper";

let browser;
let first; // the first player's browser
const state = { email: null, characterId: null, importedId: null, metricsBefore: null };

/** What a test needs from an earlier one: when it is missing (that test failed, and says
 * why), this test is skipped rather than failed a second time. */
function needs(t, value, what) {
  if (!value) t.skip(`needs ${what}: an earlier test failed`);
  return value;
}

/** Run a test body against a user's page; on failure keep the page and say where it is. */
async function on(user, where, body) {
  try {
    await body(user.page);
  } catch (error) {
    const saved = await saveFailure(user.page, where);
    user.forget();
    error.message = `${error.message}\n    page when it failed: ${saved}`;
    throw error;
  }
  user.assertNoErrors(where);
}

/** Wait until `locator`'s text matches `pattern`; fail with the last text seen. */
async function expectText(locator, pattern) {
  return eventually(async () => {
    const text = (await locator.innerText()).replace(/\s+/g, " ").trim();
    assert.match(text, pattern);
    return text;
  });
}

const heading = (page, name, level = 1) => page.getByRole("heading", { name, level });

/** The number a sheet shows for a term of its "Combat numbers" list (AC, hit points, ...). */
async function sheetNumber(page, term) {
  const item = page
    .getByLabel("Combat numbers")
    .locator("div")
    .filter({ has: page.getByRole("term").filter({ hasText: new RegExp(`^${term}$`) }) });
  const text = (await item.getByRole("definition").innerText()).trim();
  const match = /^([+−-]?\d+)/.exec(text);
  assert.ok(match, `no number for ${term} on the sheet: ${JSON.stringify(text)}`);
  return Number(match[1].replace("−", "-"));
}

/** The wizard's open-choice group whose legend matches `name`, and its "saved" mark. */
const choice = (page, name) => page.getByRole("group", { name });
async function saved(group) {
  await group.getByText("· saved").waitFor();
}

before(async () => {
  state.metricsBefore = await apiMetrics();
  browser = await launch();
  first = await openUser(browser, { name: "the first player" });
});

after(async () => {
  await browser?.close();
});

describe("a player", () => {
  test("signs up", async () => {
    await on(first, "sign up", async (page) => {
      state.email = uniqueEmail("first");
      await page.goto(`${BASE_URL}/`);
      await heading(page, "Forge your hero").waitFor();
      await page.getByRole("main").getByRole("link", { name: "Create an account" }).click();
      await heading(page, "Create your account").waitFor();
      await screenshot(page, "sign-up"); // (before typing: the address differs at each run)
      await page.getByLabel("E-mail address").fill(state.email);
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByLabel("Password").press("Enter"); // the keyboard submits the form
      await heading(page, "My characters").waitFor();
      await page.getByText("No characters yet").waitFor();
      await page.getByRole("button", { name: /^Sign out/ }).waitFor();
      const me = await apiGet(page, "/api/me");
      assert.equal(me.email, state.email);
    });
  });

  test("builds a half-elf warlock through every wizard step", async (t) => {
    if (!needs(t, state.email, "a signed-up player")) return;
    await on(first, "the wizard", async (page) => {
      await page.getByRole("button", { name: "New character" }).click();
      await page.waitForURL(/\/create\/[^/]+\/race$/);

      // Race: half-elf (no subrace).
      await heading(page, /Step 1 of \d+: Race/, 2).waitFor();
      await page.getByRole("radio", { name: /^Half-Elf/ }).check();
      await page.getByText("Traits of the Half-Elf").waitFor();
      await screenshot(page, "wizard-race");
      await page.getByRole("button", { name: "Save and continue" }).click();

      // Class: warlock, with its level-1 subclass.
      await heading(page, /Step 2 of \d+: Class/, 2).waitFor();
      await page.getByRole("radio", { name: /^Warlock/ }).check();
      await page.getByLabel("Warlock subclass (chosen at level 1)").selectOption({ label: "Fiend" });
      await screenshot(page, "wizard-class");
      await page.getByRole("button", { name: "Save and continue" }).click();

      // Background: the acolyte (Insight and Religion).
      await heading(page, /Step 3 of \d+: Background/, 2).waitFor();
      await page.getByRole("radio", { name: /^Acolyte/ }).check();
      await page.getByText("Feature: Shelter of the Faithful").waitFor();
      await screenshot(page, "wizard-background");
      await page.getByRole("button", { name: "Save and continue" }).click();

      // Ability scores by point buy: the budget follows every change.
      await heading(page, /Step 4 of \d+: Ability scores/, 2).waitFor();
      await page.getByRole("radio", { name: /^Point buy/ }).check();
      const budget = page.getByRole("status").filter({ hasText: "Points spent" });
      await expectText(budget, /Points spent: 0 of 27 · 27 left/);
      const raise = async (ability, times) => {
        for (let i = 0; i < times; i++) await page.getByRole("button", { name: `Raise ${ability}`, exact: true }).click();
      };
      await raise("Charisma", 7); // 8 -> 15: 9 points
      await expectText(budget, /Points spent: 9 of 27 · 18 left/);
      // Typing over the budget says so and blocks saving; the scores are not sent.
      await page.getByLabel("Strength", { exact: true }).fill("15");
      await expectText(budget, /Points spent: 18 of 27 · 9 left/);
      await page.getByLabel("Dexterity", { exact: true }).fill("15");
      await page.getByLabel("Constitution", { exact: true }).fill("15");
      await expectText(budget, /Points spent: 36 of 27 · 9 over budget/);
      const submit = page.getByRole("button", { name: "Save and continue" });
      assert.ok(await submit.isDisabled(), "over budget, yet saving is allowed");
      await page.getByLabel("Strength", { exact: true }).fill("8");
      await page.getByLabel("Dexterity", { exact: true }).fill("8");
      await page.getByLabel("Constitution", { exact: true }).fill("8");
      await raise("Dexterity", 6); // 14: 7 points
      await raise("Constitution", 6); // 14: 7 points
      await raise("Wisdom", 4); // 12: 4 points
      await expectText(budget, /Points spent: 27 of 27 · 0 left/);
      assert.ok(await page.getByRole("button", { name: "Raise Intelligence" }).isDisabled(), "the budget is spent, yet a score can be raised");
      // The half-elf's CHA +2 shows in the table: 15 + 2 = 17, modifier +3.
      assert.equal(await page.getByLabel("Charisma", { exact: true }).inputValue(), "15");
      await expectText(page.getByRole("row").filter({ hasText: "Charisma" }), /\+2 17 \+3$/);
      await screenshot(page, "wizard-abilities");
      await page.getByRole("button", { name: "Save and continue" }).click();

      // Proficiencies and the other open choices, each saved when complete.
      await heading(page, /Step 5 of \d+: Proficiencies/, 2).waitFor();
      await page.getByRole("checkbox", { name: "DEX +1" }).check();
      await page.getByRole("checkbox", { name: "CON +1" }).check();
      await saved(choice(page, /^choose 2/));
      const raceLanguage = choice(page, /^choose a language/);
      await raceLanguage.getByRole("radio", { name: "Infernal", exact: true }).check();
      await saved(raceLanguage);
      const versatility = choice(page, /^Skill Versatility/);
      await versatility.getByRole("checkbox", { name: "Skill: Perception" }).check();
      await versatility.getByRole("checkbox", { name: "Skill: Persuasion" }).check();
      await saved(versatility);
      // The api refuses Religion (the acolyte has it already) and the page says so, next to
      // the choice it concerns.
      const classSkills = choice(page, /^Choose two skills from Arcana/);
      first.expectErrors(/status of 422/); // the refusal's answer, logged by Chromium
      await classSkills.getByRole("checkbox", { name: "Skill: Arcana" }).check();
      await classSkills.getByRole("checkbox", { name: "Skill: Religion" }).check();
      await expectText(classSkills, /skill-religion is already granted by another source/);
      assert.equal(await classSkills.getAttribute("aria-invalid"), "true");
      await classSkills.getByRole("checkbox", { name: "Skill: Religion" }).uncheck();
      await classSkills.getByRole("checkbox", { name: "Skill: Deception" }).check();
      await saved(classSkills);
      await eventually(async () => assert.equal(await classSkills.getAttribute("aria-invalid"), null));
      const backgroundLanguages = choice(page, /^languages/);
      await backgroundLanguages.getByRole("checkbox", { name: "Dwarvish", exact: true }).check();
      await backgroundLanguages.getByRole("checkbox", { name: "Giant", exact: true }).check();
      await saved(backgroundLanguages);
      await screenshot(page, "wizard-skills");
      await page.getByRole("button", { name: "Continue" }).click();

      // Starting equipment.
      await heading(page, /Step 6 of \d+: Equipment/, 2).waitFor();
      const picks = [
        [/^\(a\) a light crossbow and 20 bolts/, /^Crossbow, light and 20/],
        [/^\(a\) a component pouch/, /^Component pouch/],
        [/^\(a\) a scholar’s pack/, /^Scholar's Pack/],
        [/^any simple weapon/, /^Dagger$/],
        [/^any holy symbols/, /^Amulet$/],
      ];
      for (const [group, option] of picks) {
        const field = choice(page, group);
        await field.getByRole("radio", { name: option }).check();
        await saved(field);
      }
      await screenshot(page, "wizard-equipment");
      await page.getByRole("button", { name: "Continue" }).click();

      // Spells: two cantrips and two spells known.
      await heading(page, /Step 7 of \d+: Spells/, 2).waitFor();
      const cantrips = choice(page, /^Cantrips: choose 2/);
      await cantrips.getByRole("checkbox", { name: /^Eldritch Blast/ }).check();
      await cantrips.getByRole("checkbox", { name: /^Mage Hand/ }).check();
      await expectText(cantrips, /2 of 2 chosen/);
      assert.ok(await cantrips.getByRole("checkbox", { name: /^Chill Touch/ }).isDisabled(), "a third cantrip can be picked");
      const known = choice(page, /^Spells known: choose 2/);
      await known.getByRole("checkbox", { name: /^Hellish Rebuke/ }).check();
      await known.getByRole("checkbox", { name: /^Charm Person/ }).check();
      await screenshot(page, "wizard-spells");
      await page.getByRole("button", { name: "Save and continue" }).click();

      // Details.
      await heading(page, /Step 8 of \d+: Details/, 2).waitFor();
      await page.getByLabel("Name", { exact: true }).fill(HERO);
      await page.getByLabel("Alignment").selectOption({ label: "Chaotic Neutral" });
      await page.getByLabel(/^Personality traits/).fill("I quote my patron's contract at the worst moments.");
      await screenshot(page, "wizard-details");
      await page.getByRole("button", { name: "Save and continue" }).click();

      // Review, then finalize.
      await heading(page, /Step 9 of \d+: Review/, 2).waitFor();
      await heading(page, `Creating ${HERO}`).waitFor();
      await page.getByText("Everything is chosen.").waitFor();
      await screenshot(page, "wizard-review");
      await page.getByRole("button", { name: "Finalize character" }).click();
      await page.waitForURL(/\/characters\/[0-9a-f-]{36}$/);
      await heading(page, HERO).waitFor();
      state.characterId = new URL(page.url()).pathname.split("/").pop();
    });
  });

  test("sees the sheet with the api's derived numbers", async (t) => {
    const id = needs(t, state.characterId, "the character from the wizard");
    if (!id) return;
    await on(first, "the sheet", async (page) => {
      await page.goto(`${BASE_URL}/characters/${id}`); // a deep link, loaded afresh
      await heading(page, HERO).waitFor();
      const character = await apiGet(page, `/api/characters/${id}`);
      const sheet = character.sheet;
      assert.equal(sheet.level, 1);
      await expectText(page.getByText(/^Level 1 Half-Elf Warlock 1/), /Level 1 Half-Elf Warlock 1 \(Fiend\)/);
      assert.equal(await sheetNumber(page, "Armor Class"), sheet.armor_class.value);
      assert.equal(await sheetNumber(page, "Hit Points"), sheet.hit_points.max);
      assert.equal(await sheetNumber(page, "Proficiency"), sheet.proficiency_bonus);
      assert.equal(await sheetNumber(page, "Initiative"), sheet.initiative);
      assert.equal(await sheetNumber(page, "Passive Perception"), sheet.passive_perception);
      // And they are the rules' numbers: leather armour 11 + DEX 15 (+2) = 13; d8 + CON 15
      // (+2) = 10 hit points; Perception proficient (+2) with WIS 12 (+1): 10 + 3 = 13.
      assert.deepEqual(
        [sheet.armor_class.value, sheet.hit_points.max, sheet.proficiency_bonus, sheet.passive_perception],
        [13, 10, 2, 13],
      );
      const casting = page.getByRole("heading", { name: "Spellcasting" }).locator("..");
      const warlock = sheet.spellcasting.classes.find((c) => c.class === "warlock");
      await expectText(casting, new RegExp(`spell save DC ${warlock.save_dc}, spell attack \\+${warlock.attack_bonus}`));
      await page.getByRole("link", { name: "Eldritch Blast" }).waitFor();
      await screenshot(page, "sheet");
    });
  });

  test("levels the character up, with the level's choices", async (t) => {
    const id = needs(t, state.characterId, "the character from the wizard");
    if (!id) return;
    await on(first, "the level-up", async (page) => {
      await page.goto(`${BASE_URL}/characters/${id}`);
      await page.getByRole("main").getByRole("link", { name: "Level up" }).click();
      await heading(page, /Level up Vex Emberwhisper \(level 1 → 2\)/).waitFor();
      await page.getByLabel("Class").selectOption("warlock");
      await page.getByRole("button", { name: "Start levelling up" }).click();
      await page.getByText("Gaining Warlock level 2 (character level 2).").waitFor();
      const commit = page.getByRole("button", { name: "Gain level 2" });
      assert.ok(await commit.isDisabled(), "the level can be gained before its choices are made");

      // A controlled radio: checked once the api has recorded the choice.
      const average = page.getByRole("radio", { name: /^The fixed average: 5 \+2 = 7/ });
      await average.click();
      await eventually(async () => assert.ok(await average.isChecked(), "the average hit points are not recorded"));
      const invocations = choice(page, /eldritch invocation/i);
      await invocations.getByRole("checkbox", { name: "Eldritch Invocation: Agonizing Blast" }).check();
      await invocations.getByRole("checkbox", { name: "Eldritch Invocation: Devil's Sight" }).check();
      await saved(invocations);
      const spells = choice(page, /^New spells: choose 1/);
      await spells.getByRole("checkbox", { name: /^Expeditious Retreat/ }).check();
      await page.getByRole("button", { name: "Save spells" }).click();
      // The preview: 10 -> 17 hit points, before anything is applied.
      await expectText(page.getByLabel("Before and after"), /Hit Points 10 → 17/i); // (shown in capitals: innerText follows the CSS)
      await eventually(async () => assert.ok(await commit.isEnabled(), "every choice is made, yet the level cannot be gained"));
      await screenshot(page, "level-up");
      await commit.click();

      await page.waitForURL(new RegExp(`/characters/${id}$`));
      await expectText(page.getByText(/^Level \d+ Half-Elf/), /^Level 2 Half-Elf Warlock 2 \(Fiend\)/);
      const character = await apiGet(page, `/api/characters/${id}`);
      assert.equal(character.sheet.level, 2);
      assert.equal(character.sheet.hit_points.max, 17);
      assert.equal(await sheetNumber(page, "Hit Points"), 17);
      const features = character.sheet.features.map((f) => f.index);
      assert.ok(features.includes("eldritch-invocation-agonizing-blast"), `features: ${features}`);
      await page.getByRole("link", { name: "Expeditious Retreat" }).waitFor();

      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "My characters" }).click();
      await heading(page, "My characters").waitFor();
      await expectText(page.getByRole("listitem").filter({ hasText: HERO }), /Level 2 Half.Elf Warlock \(Fiend\)/); // ("Half Elf" here: reported)
      await screenshot(page, "characters");
    });
  });

  test("searches a rule and sees a snippet", async () => {
    await on(first, "the rule search", async (page) => {
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Rules" }).click();
      await heading(page, "Search the rules").waitFor();
      await page.getByLabel("Words to look for").fill("grappled");
      await page.getByLabel("Kind").selectOption({ label: "Condition" });
      await page.getByRole("search", { name: "Rules" }).getByRole("button", { name: "Search" }).click();
      await page.waitForURL(/\/rules\?.*q=grappled/);
      const result = page.getByRole("listitem").filter({ has: page.getByRole("link", { name: "Grappled" }) });
      await expectText(result, /A grappled creature's speed becomes 0/);
      // The snippet marks the words found.
      assert.equal((await result.locator("mark").first().innerText()).toLowerCase(), "grappled");
      await expectText(page.getByText(/results? for “grappled”/), /\d+ results? for “grappled”/);
      await screenshot(page, "rules-search");
      await result.getByRole("link", { name: "Grappled" }).click();
      await page.waitForURL(/\/rules\/condition\/grappled$/);
      await heading(page, "Grappled").waitFor();
      await page.getByText(/speed becomes 0/).first().waitFor();
    });
  });

  test("asks the assistant and follows a citation to the rule entry", async () => {
    await on(first, "the assistant", async (page) => {
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Assistant" }).click();
      await heading(page, "Ask the rules assistant").waitFor();
      await page.getByLabel("Your question").fill("How does grappling work?");
      await page.getByRole("button", { name: "Ask" }).click();
      const answer = page.getByRole("heading", { name: "Answer", level: 2 }).locator("..");
      await answer.waitFor();
      await expectText(answer, /grapple/i);
      const sources = page.getByRole("heading", { name: "Sources" });
      await sources.waitFor();
      await screenshot(page, "assistant");
      // The [1] in the answer links to the first source's rule entry.
      const cite = page.getByRole("link", { name: /^Source 1: / });
      const label = await cite.getAttribute("aria-label");
      const name = /^Source 1: ([^,]+)/.exec(label)[1];
      await cite.click();
      await page.waitForURL(/\/rules\/[^/]+\/[^/]+$/);
      await heading(page, name).waitFor();
      await page.getByRole("link", { name: "Rules" }).first().waitFor();
    });
  });

  test("downloads the character as a PDF", async (t) => {
    const id = needs(t, state.characterId, "the character from the wizard");
    if (!id) return;
    await on(first, "the PDF export", async (page) => {
      await page.goto(`${BASE_URL}/characters/${id}`);
      await page.getByRole("main").getByRole("link", { name: "Export" }).click();
      await heading(page, `Export ${HERO}`).waitFor();
      const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download PDF" }).click()]);
      assert.match(download.suggestedFilename(), /\.pdf$/);
      const bytes = readFileSync(await download.path());
      assert.equal(bytes.subarray(0, 5).toString("latin1"), "%PDF-");
      assert.ok(bytes.length > 1000, `a ${bytes.length}-byte PDF`);
      await page.getByText(`Downloaded ${download.suggestedFilename()}.`).waitFor();
    });
  });

  test("imports a JSON export as a new character", async (t) => {
    const id = needs(t, state.characterId, "the character from the wizard");
    if (!id) return;
    await on(first, "the JSON import", async (page) => {
      await page.goto(`${BASE_URL}/characters/${id}/export`);
      await heading(page, `Export ${HERO}`).waitFor();
      const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download JSON" }).click()]);
      const file = await download.path();
      const document = JSON.parse(readFileSync(file, "utf8"));
      assert.equal(document.schema, "hero-foundry/character");
      assert.equal(document.character.name, HERO);
      assert.equal(document.character.level, 2);

      await page.goto(`${BASE_URL}/characters`);
      await page.getByRole("link", { name: "Import a JSON export" }).click();
      await heading(page, "Import a character").waitFor();
      await page.getByLabel("Export file (.json)").setInputFiles(file);
      const pasted = page.getByLabel("…or paste its content");
      await eventually(async () => assert.match(await pasted.inputValue(), /"hero-foundry\/character"/)); // the file was read
      await page.getByRole("button", { name: "Import", exact: true }).click();
      await page.waitForURL(/\/characters\/[0-9a-f-]{36}$/);
      state.importedId = new URL(page.url()).pathname.split("/").pop();
      assert.notEqual(state.importedId, id, "the import opened the original, not a new character");
      await heading(page, HERO).waitFor();
      await expectText(page.getByText(/^Level \d+ Half-Elf/), /^Level 2 Half-Elf Warlock 2 \(Fiend\)/);

      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "My characters" }).click();
      await heading(page, "My characters").waitFor();
      await eventually(async () => assert.equal(await page.getByRole("link", { name: HERO, exact: true }).count(), 2));
      const list = await apiGet(page, "/api/characters");
      assert.deepEqual(list.items.map((c) => c.id).sort(), [id, state.importedId].sort());
    });
  });
});

describe("a second player", () => {
  test("cannot see the first player's characters", async (t) => {
    const id = needs(t, state.characterId, "the first player's character");
    if (!id) return;
    const second = await openUser(browser, { name: "the second player" });
    try {
      await on(second, "the second player's visit", async (page) => {
        await page.goto(`${BASE_URL}/sign-up`);
        await page.getByLabel("E-mail address").fill(uniqueEmail("second"));
        await page.getByLabel("Password").fill(PASSWORD);
        await page.getByRole("button", { name: "Sign up" }).click();
        await heading(page, "My characters").waitFor();
        await page.getByText("No characters yet").waitFor();
        await page.getByText("No unfinished drafts.").waitFor();
        assert.equal(await page.getByRole("link", { name: HERO }).count(), 0);
        assert.equal((await apiGet(page, "/api/characters")).total, 0);

        // The first player's character by its address: the api says it does not exist.
        second.expectErrors(/status of 404/);
        await page.goto(`${BASE_URL}/characters/${id}`);
        await expectText(page.getByRole("alert"), /Character not found/);
        assert.equal(await page.getByRole("heading", { name: HERO }).count(), 0);
        await page.goto(`${BASE_URL}/characters/${id}/level-up`);
        await expectText(page.getByRole("alert").first(), /not found/i);
        assert.equal(await page.getByRole("button", { name: "Start levelling up" }).count(), 0);
      });
    } finally {
      await second.close();
    }
  });
});

describe("on a phone", () => {
  test("the sheet fits a 375 px wide screen", async (t) => {
    const id = needs(t, state.characterId, "the first player's character");
    if (!id) return;
    const phone = await openUser(browser, { viewport: PHONE, name: "the first player's phone" });
    try {
      await on(phone, "the phone visit", async (page) => {
        await page.goto(`${BASE_URL}/characters/${id}`);
        // Not signed in on this device: the sign-in page, then back to the sheet.
        await page.waitForURL(/\/sign-in\?next=/);
        await page.getByLabel("E-mail address").fill(state.email);
        await page.getByLabel("Password").fill(PASSWORD);
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.waitForURL(new RegExp(`/characters/${id}$`));
        await heading(page, HERO).waitFor();
        await sheetNumber(page, "Hit Points");
        const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, screen: window.innerWidth }));
        assert.ok(widths.page <= widths.screen, `the page is ${widths.page} px wide on a ${widths.screen} px screen`);
        await screenshot(page, "phone-sheet", { fullPage: false }); // one phone screen
      });
    } finally {
      await phone.close();
    }
  });
});

describe("real-user monitoring", () => {
  test("the browser's events reached the api's /metrics", async (t) => {
    if (!needs(t, state.characterId, "the wizard run")) return;
    const before = needs(t, state.metricsBefore, "the metrics read before the run");
    if (!before) return;
    await on(first, "the RUM check", async (page) => {
      // Leaving a page sends what is queued (navigator.sendBeacon on pagehide).
      await page.goto(`${BASE_URL}/rules`);
      await heading(page, "Search the rules").waitFor();
      await page.goto("about:blank");
      const grew = (now, metric, labels = {}) => total(now, metric, labels) - total(before, metric, labels);
      const now = await eventually(async () => {
        const samples = await apiMetrics();
        for (const [page_name, user_type] of [
          ["home", "anonymous"],
          ["sign-up", "anonymous"],
          ["wizard-race", "registered"],
          ["wizard-abilities", "registered"],
          ["character-sheet", "registered"],
          ["level-up", "registered"],
          ["rules-search", "registered"],
          ["assistant", "registered"],
        ]) {
          assert.ok(grew(samples, "page_views_total", { page_name, user_type }) >= 1, `no ${user_type} page view of ${page_name} reached the api`);
        }
        for (const step of ["race", "class", "background", "ability-scores", "choices", "spells", "details", "finalize"]) {
          assert.ok(grew(samples, "frontend_wizard_step_duration_seconds_count", { step }) >= 1, `no timing of the wizard step ${step}`);
        }
        assert.ok(grew(samples, "frontend_character_creation_duration_seconds_count") >= 1, "no wizard completion time");
        for (const metric of ["TTFB", "FCP"]) {
          assert.ok(grew(samples, "frontend_web_vitals_seconds_count", { metric }) >= 1, `no ${metric} web vital`);
        }
        return samples;
      }, 20_000);
      assert.equal(grew(now, "frontend_errors_total"), 0, "the front end reported JavaScript errors");
      assert.equal(grew(now, "telemetry_events_rejected_total"), 0, "the api refused some of the front end's events");
    });
  });
});
