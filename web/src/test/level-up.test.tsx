// The level-up flow on captured api answers: start (and a refused multiclass), hit points,
// subclass, Ability Score Improvement, commit.
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes, useLocation } from "react-router-dom";
import { describe, expect, it, vi } from "vitest";
import { saveSession } from "../api/client";
import type { Character, LevelUp } from "../api/types";
import { AuthProvider } from "../auth";
import { LevelUpPage } from "../pages/LevelUp";
import { fixtures, jsonResponse, problemResponse } from "./fixtures";

function Where() {
  return <output data-testid="where">{useLocation().pathname}</output>;
}

interface Call {
  method: string;
  url: string;
  body: unknown;
}

/** The page on a fake api; `answer` decides each non-GET request's response. */
function renderLevelUp(character: Character, open: LevelUp | null, answer: (call: Call) => Response) {
  saveSession({ token: "tok", expiresAt: new Date(Date.now() + 3_600_000).toISOString(), email: "a@b.c" });
  const calls: Call[] = [];
  const base = `/api/characters/${character.id}`;
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init?: RequestInit) => {
      const call = { method: init?.method ?? "GET", url, body: init?.body ? JSON.parse(String(init.body)) : undefined };
      calls.push(call);
      if (call.method !== "GET") return answer(call);
      if (url === base) return jsonResponse(character);
      if (url === `${base}/level-ups`) return jsonResponse(open ? [{ id: open.id, status: "open", class: open.class, to_level: open.to_level, started_at: open.started_at, finished_at: null }] : []);
      if (open && url === `${base}/level-ups/${open.id}`) return jsonResponse(open);
      if (url === "/api/srd/classes") return jsonResponse([{ index: "cleric", name: "Cleric" }, { index: "wizard", name: "Wizard" }, { index: "fighter", name: "Fighter" }]);
      if (url.startsWith("/api/srd/spells")) return jsonResponse({ items: [], total: 0, limit: 500, offset: 0 });
      throw new Error(`unexpected GET ${url}`);
    }),
  );
  render(
    <MemoryRouter initialEntries={[`/characters/${character.id}/level-up`]}>
      <AuthProvider>
        <Routes>
          <Route path="/characters/:id/level-up" element={<LevelUpPage />} />
          <Route path="/characters/:id" element={<p>sheet</p>} />
        </Routes>
        <Where />
      </AuthProvider>
    </MemoryRouter>,
  );
  return calls;
}

describe("the level-up page", () => {
  it("shows a refused multiclass under the class field, then levels the cleric with the average", async () => {
    const user = userEvent.setup();
    const character = fixtures.character();
    const started = fixtures.levelUpNew();
    const ready = fixtures.levelUpReady();
    const levelled = fixtures.characterLevel2();
    const calls = renderLevelUp(character, null, (call) => {
      if (call.url.endsWith("/level-ups") && (call.body as { class: string }).class === "wizard") return problemResponse(fixtures.multiclassRefused());
      if (call.url.endsWith("/level-ups")) return jsonResponse(started, 201);
      if (call.url.endsWith("/hit-points")) return jsonResponse(ready);
      if (call.url.endsWith("/commit")) return jsonResponse(levelled);
      throw new Error(`unexpected ${call.method} ${call.url}`);
    });
    const select = await screen.findByLabelText("Class");
    await waitFor(() => expect(within(select).getByRole("option", { name: "Wizard" })).toBeTruthy());
    await user.selectOptions(select, "wizard");
    await user.click(screen.getByRole("button", { name: "Start levelling up" }));
    await waitFor(() => expect(select.getAttribute("aria-invalid")).toBe("true"));
    expect(document.getElementById(select.getAttribute("aria-describedby")!)?.textContent).toMatch("multiclassing needs INT 13 for Wizard");

    await user.selectOptions(select, "cleric");
    await user.click(screen.getByRole("button", { name: "Start levelling up" }));
    expect(await screen.findByText(/Gaining Cleric level 2/)).toBeTruthy();
    const commit = screen.getByRole("button", { name: "Gain level 2" }) as HTMLButtonElement;
    expect(commit.disabled).toBe(true); // hit points missing
    expect(screen.getAllByText("missing: average or rolled").length).toBeGreaterThan(0);
    // the fixed average: hit die 8 -> 5, CON +2 -> 7
    await user.click(screen.getByRole("radio", { name: /The fixed average: 5 \+2 = 7/ }));
    await waitFor(() => expect(commit.disabled).toBe(false));
    const compare = document.querySelector<HTMLElement>('dl[aria-label="Before and after"]')!;
    expect(within(compare).getByText("Hit Points").nextElementSibling!.textContent).toBe("11 → 19");
    await user.click(commit);
    await waitFor(() => expect(screen.getByTestId("where").textContent).toBe(`/characters/${character.id}`));
    expect(calls.filter((c) => c.method !== "GET").map((c) => [c.method, c.url.replace(/.*\/level-ups/, "…"), c.body])).toEqual([
      ["POST", "…", { class: "wizard" }],
      ["POST", "…", { class: "cleric" }],
      ["PUT", `…/${started.id}/hit-points`, { method: "average" }],
      ["POST", `…/${started.id}/commit`, undefined],
    ]);
  });

  it("resumes an open level-up and offers the subclass it lists", async () => {
    const user = userEvent.setup();
    const character = fixtures.character();
    const open = fixtures.levelUpSubclass(); // the fighter's level 3: a roll stands, subclass missing
    const calls = renderLevelUp(character, open, () => jsonResponse({ ...open, chosen: { ...open.chosen, subclass: "champion" }, missing: [], complete: true }));
    expect(await screen.findByText(/Gaining Fighter level 3/)).toBeTruthy();
    expect(screen.getByText(/The server rolled/).textContent).toMatch(`rolled ${open.hit_points.roll}`);
    for (const radio of screen.getAllByRole("radio")) expect((radio as HTMLInputElement).disabled).toBe(true); // the roll stands
    const subclass = screen.getByLabelText("Fighter subclass");
    expect(within(subclass).getByRole("option", { name: "Champion" })).toBeTruthy();
    await user.selectOptions(subclass, "champion");
    await waitFor(() => expect((screen.getByRole("button", { name: "Gain level 3" }) as HTMLButtonElement).disabled).toBe(false));
    expect(calls.at(-1)).toMatchObject({ method: "PUT", body: { subclass: "champion" } });
  });

  it("offers +2, +1/+1 or a feat at an ASI level and shows the api's refusal", async () => {
    const user = userEvent.setup();
    const character = fixtures.character();
    const open = fixtures.levelUpAsi();
    const calls = renderLevelUp(character, open, (call) => {
      const body = call.body as { increases?: Record<string, number>; feat?: string };
      if (body.increases) return problemResponse(fixtures.problemAsi()); // what the api said to {"str": 3}
      return jsonResponse({ ...open, chosen: { ...open.chosen, ...body }, missing: [], complete: true });
    });
    expect(await screen.findByRole("heading", { name: "Ability Score Improvement or feat" })).toBeTruthy();
    expect(screen.getByRole("radio", { name: "A feat" })).toBeTruthy(); // the api lists grappler
    // +1 to two abilities: the second cannot be the first
    await user.click(screen.getByRole("radio", { name: "+1 to two abilities" }));
    await user.selectOptions(screen.getByLabelText("First ability (+1)"), "str");
    const second = screen.getByLabelText("Second ability (+1)");
    expect((within(second).getByRole("option", { name: /Strength/ }) as HTMLOptionElement).disabled).toBe(true);
    await user.selectOptions(second, "con");
    // the scores listed are the character's before this level (CON 15)
    expect(within(second).getByRole("option", { name: "Constitution (15)" })).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "Apply" }));
    // the api's refusal shows in the form
    expect(await screen.findByText("increase one ability by 2, or two abilities by 1 each")).toBeTruthy();
    await user.click(screen.getByRole("radio", { name: "A feat" }));
    await user.selectOptions(screen.getByLabelText("Feat"), "grappler");
    await user.click(screen.getByRole("button", { name: "Apply" }));
    expect(await screen.findByText(/Chosen: Grappler/)).toBeTruthy();
    expect(calls.filter((c) => c.method === "PUT").map((c) => c.body)).toEqual([{ increases: { str: 1, con: 1 } }, { feat: "grappler" }]);
  });
});
