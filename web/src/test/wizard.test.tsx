// Wizard step navigation: where a draft resumes, which pages exist, what Continue does, focus,
// and the wizard timings it reports.
import { act, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes, useLocation } from "react-router-dom";
import { describe, expect, it, vi } from "vitest";
import { saveSession } from "../api/client";
import type { Draft } from "../api/types";
import { AuthProvider } from "../auth";
import { WizardPage, WizardResume } from "../pages/Wizard";
import { endsServerStep, isDone, missingFor, resumeStep, stepOfField, visibleSteps } from "../pages/wizardSteps";
import { rum } from "../rum";
import { fixtures, jsonResponse } from "./fixtures";

describe("step bookkeeping", () => {
  it("resumes a draft at the first page with something missing", () => {
    expect(resumeStep(fixtures.draftNew())).toBe("race");
    expect(resumeStep(fixtures.draftClericChoices())).toBe("skills"); // the dwarf's tool is the first open choice
    expect(resumeStep(fixtures.draftClericSpells())).toBe("spells");
    expect(resumeStep(fixtures.draftComplete())).toBe("review");
  });

  it("files each missing field under its page (skills vs equipment by the choice's type)", () => {
    const draft = fixtures.draftClericChoices();
    expect(stepOfField(draft, "choices.class:proficiencies:0")).toBe("skills");
    expect(stepOfField(draft, "choices.background:languages")).toBe("skills");
    expect(stepOfField(draft, "choices.class:equipment:2")).toBe("equipment");
    expect(stepOfField(draft, "choices.background:equipment:0")).toBe("equipment");
    expect(stepOfField(draft, "scores.str")).toBe("abilities");
    expect(stepOfField(draft, "details.alignment")).toBe("details");
    expect(missingFor(draft, "equipment").map((m) => m.field)).toEqual([
      "choices.class:equipment:0",
      "choices.class:equipment:1",
      "choices.class:equipment:2",
      "choices.class:equipment:3",
      "choices.class:equipment:4",
      "choices.background:equipment:0",
    ]);
    const fighter = fixtures.draftFighter();
    expect(stepOfField(fighter, "choices.class:equipment:1/a/0")).toBe("equipment");
    expect(stepOfField(fighter, "choices.feature:fighter-fighting-style")).toBe("skills");
  });

  it("counts a page as done only once what it sets is chosen", () => {
    const fresh = fixtures.draftNew(); // nothing is `missing` for the choice pages yet
    expect(missingFor(fresh, "skills")).toEqual([]);
    expect(["race", "class", "background", "abilities", "skills", "equipment", "spells", "details", "review"].filter((s) => isDone(fresh, s as never))).toEqual([]);
    const spells = fixtures.draftClericSpells();
    expect(isDone(spells, "skills")).toBe(true);
    expect(isDone(spells, "equipment")).toBe(true);
    expect(isDone(spells, "spells")).toBe(false);
    expect(isDone(spells, "details")).toBe(false);
    expect(isDone(fixtures.draftComplete(), "review")).toBe(true);
  });

  it("has no spells page for a class without level-1 spells", () => {
    const fighter = fixtures.draftFighter();
    expect(fighter.spell_rules).toBeNull();
    expect(visibleSteps(fighter).map((s) => s.slug)).not.toContain("spells");
    expect(visibleSteps(fixtures.draftClericChoices()).map((s) => s.slug)).toEqual([
      "race", "class", "background", "abilities", "skills", "equipment", "spells", "details", "review",
    ]);
  });

  it("ends the api's choices step on the equipment page, not the skills page", () => {
    const draft = fixtures.draftClericChoices();
    expect(endsServerStep(draft, "skills")).toBe(false);
    expect(endsServerStep(draft, "equipment")).toBe(true);
    expect(endsServerStep(draft, "race")).toBe(true);
  });
});

function Where() {
  const location = useLocation();
  return <output data-testid="where">{location.pathname}</output>;
}

/** The wizard on a fake api: GET answers `draft`; PUTs answer what `onPut` returns. */
function renderWizard(path: string, draft: Draft, onPut: (url: string, body: unknown) => Response = () => jsonResponse(draft)) {
  saveSession({ token: "tok", expiresAt: new Date(Date.now() + 3_600_000).toISOString(), email: "a@b.c" });
  const fetch = vi.fn(async (url: string, init?: RequestInit) => {
    if (url.startsWith("/api/srd/")) return jsonResponse([]);
    if (init?.method === "PUT" || init?.method === "POST") return onPut(url, init.body ? JSON.parse(String(init.body)) : undefined);
    if (url === `/api/characters/drafts/${draft.id}`) return jsonResponse(draft);
    throw new Error(`unexpected ${url}`);
  });
  vi.stubGlobal("fetch", fetch);
  render(
    <MemoryRouter initialEntries={[path]}>
      <AuthProvider>
        <Routes>
          <Route path="/create/:draftId" element={<WizardResume />} />
          <Route path="/create/:draftId/:step" element={<WizardPage />} />
          <Route path="/characters/:id" element={<p>sheet</p>} />
        </Routes>
        <Where />
      </AuthProvider>
    </MemoryRouter>,
  );
  return fetch;
}

describe("the wizard", () => {
  it("opens a resumed draft at its first open page", async () => {
    const draft = fixtures.draftClericChoices();
    renderWizard(`/create/${draft.id}`, draft);
    await waitFor(() => expect(screen.getByTestId("where").textContent).toBe(`/create/${draft.id}/skills`));
    expect(await screen.findByRole("heading", { name: /Step 5 of 9: Proficiencies/ })).toBeTruthy();
    const current = screen.getByRole("link", { current: "step" });
    expect(current.textContent).toMatch(/Proficiencies/);
    // steps already done carry a check mark and say so to screen readers
    expect(screen.getByRole("link", { name: /Race.*\(done\)/ })).toBeTruthy();
    expect(screen.getByRole("link", { name: /Equipment.*\(to do\)/ })).toBeTruthy();
  });

  it("keeps the player on a page whose choices are still open, saying which", async () => {
    const user = userEvent.setup();
    const draft = fixtures.draftClericChoices();
    renderWizard(`/create/${draft.id}/skills`, draft);
    await user.click(await screen.findByRole("button", { name: "Continue" }));
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toMatch(/3 choices are still open/);
    expect(document.activeElement).toBe(alert); // focus moves to the summary
    const tools = document.querySelector('[data-choice-id="trait:tool-proficiency"]')!;
    expect(tools.getAttribute("aria-invalid")).toBe("true");
    expect(tools.textContent).toMatch("missing: Tool Proficiency: choose");
    expect(screen.getByTestId("where").textContent).toBe(`/create/${draft.id}/skills`);
  });

  it("saves each complete choice and shows the refusal next to it", async () => {
    const user = userEvent.setup();
    const draft = fixtures.draftClericChoices();
    const problem = fixtures.problemChoice();
    const puts: unknown[] = [];
    renderWizard(`/create/${draft.id}/skills`, draft, (_url, body) => {
      puts.push(body);
      return new Response(JSON.stringify(problem), { status: 422, headers: { "Content-Type": "application/problem+json" } });
    });
    const skills = await screen.findByRole("group", { name: /Choose two from History/ });
    await user.click(screen.getByRole("checkbox", { name: "Skill: Insight" }));
    await user.click(screen.getByRole("checkbox", { name: "Skill: History" }));
    expect(puts).toEqual([{ selections: { "class:proficiencies:0": ["skill-insight", "skill-history"] } }]);
    await waitFor(() => expect(skills.getAttribute("aria-invalid")).toBe("true"));
    expect(skills.textContent).toMatch("skill-insight is already granted by another source");
  });

  it("moves on from a complete page and times the api's step once over its two pages", async () => {
    const user = userEvent.setup();
    const spy = vi.spyOn(rum, "wizardStep");
    const draft = fixtures.draftClericSpells(); // every choice answered
    renderWizard(`/create/${draft.id}/skills`, draft);
    await user.click(await screen.findByRole("button", { name: "Continue" }));
    await waitFor(() => expect(screen.getByTestId("where").textContent).toBe(`/create/${draft.id}/equipment`));
    expect(spy).not.toHaveBeenCalled(); // the choices step goes on over two pages
    await user.click(await screen.findByRole("button", { name: "Continue" }));
    await waitFor(() => expect(screen.getByTestId("where").textContent).toBe(`/create/${draft.id}/spells`));
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls[0][0]).toBe("choices");
    expect(spy.mock.calls[0][1]).toBeGreaterThanOrEqual(0);
  });

  it("finalizes a complete draft: the character opens and the whole wizard is timed", async () => {
    const user = userEvent.setup();
    const step = vi.spyOn(rum, "wizardStep");
    const complete = vi.spyOn(rum, "wizardComplete");
    const draft = fixtures.draftComplete();
    const character = fixtures.character();
    renderWizard(`/create/${draft.id}/review`, draft, (url) => {
      expect(url).toBe(`/api/characters/drafts/${draft.id}/finalize`);
      return jsonResponse(character, 201);
    });
    expect(await screen.findByText(/Everything is chosen/)).toBeTruthy();
    expect(screen.getByText("Chain Mail + Shield")).toBeTruthy(); // the preview sheet
    await user.click(screen.getByRole("button", { name: "Finalize character" }));
    await waitFor(() => expect(screen.getByTestId("where").textContent).toBe(`/characters/${character.id}`));
    expect(step).toHaveBeenCalledWith("finalize", expect.any(Number));
    expect(complete).toHaveBeenCalledTimes(1);
  });

  it("does not offer Finalize while something is missing, and links to the page that needs it", async () => {
    const draft = fixtures.draftClericSpells();
    renderWizard(`/create/${draft.id}/review`, draft);
    const button = (await screen.findByRole("button", { name: "Finalize character" })) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    const link = screen.getAllByRole("link", { name: "Spells" }).find((a) => a.closest(".missing"));
    expect(link?.getAttribute("href")).toBe(`/create/${draft.id}/spells`);
    await act(async () => {});
  });
});
