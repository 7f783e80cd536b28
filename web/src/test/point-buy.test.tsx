import { act, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router-dom";
import { describe, expect, it, vi } from "vitest";
import { ABILITIES } from "../api/types";
import { AuthProvider } from "../auth";
import { AbilitiesStep, type StepProps } from "../pages/Wizard";
import { budget, canLower, canRaise, pointBuyCost, POINT_BUY_BUDGET, POINT_BUY_COST, POINT_BUY_MAX, POINT_BUY_MIN, STANDARD_ARRAY } from "../rules/pointBuy";
import { fixtures, jsonResponse } from "./fixtures";
import { pythonSource } from "./python-constants";

const all = (value: number) => Object.fromEntries(ABILITIES.map((a) => [a, value]));

describe("point-buy budget", () => {
  it("costs nothing at 8 and the whole budget for 15, 15, 15", () => {
    expect(pointBuyCost(all(8))).toBe(0);
    expect(budget({ ...all(8), str: 15, dex: 15, con: 15 })).toEqual({ spent: 27, remaining: 0, over: false });
  });

  it("goes over budget, and marks scores outside 8-15 as unbuyable", () => {
    expect(budget({ ...all(8), str: 15, dex: 15, con: 15, int: 9 })).toEqual({ spent: 28, remaining: -1, over: true });
    expect(budget({ ...all(8), str: 16 })).toEqual({ spent: null, remaining: null, over: true });
    expect(budget({ ...all(8), str: 7 }).spent).toBeNull();
  });

  it("allows a raise only when the next point is affordable and in range", () => {
    // 26 spent: 13 -> 14 costs 2 (5 -> 7), so it is refused; 8 -> 9 costs 1, allowed.
    const scores = { str: 15, dex: 15, con: 13, int: 8, wis: 11, cha: 8 }; // 9 + 9 + 5 + 0 + 3 + 0 = 26
    expect(pointBuyCost(scores)).toBe(26);
    expect(canRaise(scores, "con")).toBe(false);
    expect(canRaise(scores, "int")).toBe(true);
    expect(canRaise({ ...all(8), str: 15 }, "str")).toBe(false);
    expect(canLower(all(8), "str")).toBe(false);
    expect(canLower({ ...all(8), str: 9 }, "str")).toBe(true);
  });

  it("uses the api's own numbers (rules/abilities.py)", () => {
    const source = pythonSource("src/hero_foundry/rules/abilities.py");
    expect(Number(/^POINT_BUY_BUDGET\s*=\s*(\d+)/m.exec(source)?.[1])).toBe(POINT_BUY_BUDGET);
    const costs = /^POINT_BUY_COST[^{]*\{([^}]*)\}/m.exec(source)?.[1] ?? "";
    const parsed = Object.fromEntries([...costs.matchAll(/(\d+)\s*:\s*(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]));
    expect(parsed).toEqual(POINT_BUY_COST);
    expect(Math.min(...Object.keys(parsed).map(Number))).toBe(POINT_BUY_MIN);
    expect(Math.max(...Object.keys(parsed).map(Number))).toBe(POINT_BUY_MAX);
    const array = /^STANDARD_ARRAY[^(]*\(([^)]*)\)/m.exec(source)?.[1] ?? "";
    expect(array.split(",").map((v) => Number(v.trim()))).toEqual([...STANDARD_ARRAY]);
  });
});

function renderStep(overrides: Partial<StepProps> = {}) {
  const draft = fixtures.draftNew();
  const save = vi.fn(async () => fixtures.draftClericChoices());
  const props: StepProps = { draft, save, problem: null, setProblem: vi.fn(), forward: vi.fn(), busy: false, ...overrides };
  vi.stubGlobal("fetch", vi.fn(async () => jsonResponse([])));
  render(
    <MemoryRouter>
      <AuthProvider>
        <AbilitiesStep {...props} />
      </AuthProvider>
    </MemoryRouter>,
  );
  return { props, save };
}

describe("the ability-scores step", () => {
  it("shows the live budget as points are spent and refuses an unaffordable raise", async () => {
    const user = userEvent.setup();
    const { save, props } = renderStep();
    await user.click(screen.getByRole("radio", { name: /Point buy/ }));
    const status = screen.getByTestId("budget");
    expect(status.textContent).toMatch(/Points spent: 0 of 27 · 27 left/);
    for (let i = 0; i < 7; i++) await user.click(screen.getByRole("button", { name: "Raise Strength" }));
    expect(status.textContent).toMatch(/Points spent: 9 of 27 · 18 left/);
    expect(screen.getByRole("button", { name: "Raise Strength" })).toHaveProperty("disabled", true); // 15 is the top
    for (let i = 0; i < 7; i++) await user.click(screen.getByRole("button", { name: "Raise Dexterity" }));
    for (let i = 0; i < 5; i++) await user.click(screen.getByRole("button", { name: "Raise Constitution" }));
    expect(status.textContent).toMatch(/Points spent: 23 of 27 · 4 left/);
    for (let i = 0; i < 3; i++) await user.click(screen.getByRole("button", { name: "Raise Intelligence" }));
    expect(status.textContent).toMatch(/26 of 27 · 1 left/);
    // 11 -> 12 costs 1 (3 -> 4): allowed; then 12 -> 13 costs 1 more than is left
    await user.click(screen.getByRole("button", { name: "Raise Intelligence" }));
    expect(status.textContent).toMatch(/27 of 27 · 0 left/);
    expect(screen.getByRole("button", { name: "Raise Wisdom" })).toHaveProperty("disabled", true);
    // the table shows score and modifier for each
    const row = screen.getByRole("row", { name: /Strength/ });
    expect(within(row).getAllByRole("cell").map((c) => c.textContent)).toContain("+2");
    await user.click(screen.getByRole("button", { name: "Save and continue" }));
    expect(save).toHaveBeenCalledWith("/ability-scores", {
      method: "point_buy",
      scores: { str: 15, dex: 15, con: 13, int: 12, wis: 8, cha: 8 },
    });
    expect(props.forward).toHaveBeenCalled();
  });

  it("shows the server's dice, marks the dropped die and assigns each total once", async () => {
    const user = userEvent.setup();
    const draft = fixtures.draftNew();
    draft.chosen.ability_scores.rolled = [
      { dice: [5, 5, 4, 1], total: 14 },
      { dice: [6, 2, 6, 1], total: 14 },
      { dice: [6, 4, 3, 2], total: 13 },
      { dice: [4, 5, 4, 2], total: 13 },
      { dice: [6, 5, 2, 2], total: 13 },
      { dice: [1, 6, 2, 3], total: 11 },
    ];
    const { save } = renderStep({ draft });
    await user.click(screen.getByRole("radio", { name: /Roll the dice/ }));
    expect(screen.queryByRole("button", { name: /Roll 4d6/ })).toBeNull(); // rolled once already
    expect(screen.getByLabelText("Roll 1: 5, 5, 4, 1; the 1 is dropped; total 14")).toBeTruthy();
    const names = ["Strength", "Dexterity", "Constitution", "Intelligence", "Wisdom", "Charisma"];
    for (const [i, name] of names.entries()) await user.selectOptions(screen.getByLabelText(name), String(i));
    // an assigned roll cannot be picked twice
    const option = within(screen.getByLabelText("Charisma")).getByRole("option", { name: "14 (roll 1)" }) as HTMLOptionElement;
    expect(option.disabled).toBe(true);
    await user.click(screen.getByRole("button", { name: "Save and continue" }));
    expect(save).toHaveBeenCalledWith("/ability-scores", {
      method: "rolled",
      scores: { str: 14, dex: 14, con: 13, int: 13, wis: 13, cha: 11 },
    });
  });

  it("offers a roll when the dice were not rolled yet", async () => {
    const user = userEvent.setup();
    const { save } = renderStep();
    await user.click(screen.getByRole("radio", { name: /Roll the dice/ }));
    await user.click(screen.getByRole("button", { name: "Roll 4d6 six times" }));
    expect(save).toHaveBeenCalledWith("/ability-scores/roll", undefined, "POST");
  });

  it("shows the server's reason next to the field it names", async () => {
    renderStep({ problem: { message: "The request has invalid fields.", fields: { "scores.str": ["point buy scores range from 8 to 15"] } } });
    const input = screen.getByLabelText("Strength");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    const described = document.getElementById(input.getAttribute("aria-describedby") ?? "");
    expect(described?.textContent).toMatch(/point buy scores range from 8 to 15/);
    await act(async () => {}); // let the race list load
  });
});
