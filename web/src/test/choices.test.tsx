// The generic choice renderer against REAL draft views captured from the api.
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { Choice } from "../api/types";
import { ChoiceList, nestChoices } from "../components/ChoiceList";
import { fieldErrors } from "../api/client";
import { fixtures } from "./fixtures";

const group = (choiceId: string) => document.querySelector(`[data-choice-id="${choiceId}"]`) as HTMLElement;

describe("the captured draft views", () => {
  it("have the shape the renderer reads", () => {
    for (const draft of [fixtures.draftClericChoices(), fixtures.draftFighter()]) {
      expect(draft.choices.length).toBeGreaterThan(0);
      for (const choice of draft.choices) {
        expect(typeof choice.id).toBe("string");
        expect(typeof choice.desc).toBe("string");
        expect(Number.isInteger(choice.choose) && choice.choose >= 1).toBe(true);
        expect(choice.options.length).toBeGreaterThanOrEqual(choice.choose);
        for (const option of choice.options) {
          expect(typeof option.key).toBe("string");
          expect(typeof option.label).toBe("string");
        }
      }
    }
  });
});

describe("ChoiceList", () => {
  it("renders every open choice of the cleric's draft as a labelled group", () => {
    const draft = fixtures.draftClericChoices();
    render(<ChoiceList choices={draft.choices} onAnswer={vi.fn()} />);
    const groups = screen.getAllByRole("group");
    expect(groups).toHaveLength(draft.choices.length);
    for (const choice of draft.choices) {
      const element = group(choice.id);
      expect(within(element).getByText(choice.desc)).toBeTruthy();
      const role = choice.choose === 1 ? "radio" : "checkbox";
      expect(within(element).getAllByRole(role)).toHaveLength(choice.options.length);
    }
    // the dwarf's tool: one of three, radio buttons with the SRD's labels
    const tools = group("trait:tool-proficiency");
    expect(within(tools).getAllByRole("radio").map((r) => (r as HTMLInputElement).value)).toEqual(["smiths-tools", "brewers-supplies", "masons-tools"]);
    expect(within(tools).getByRole("radio", { name: "Smith's Tools" })).toBeTruthy();
  });

  it("sends a choice only when it is complete, and caps checkboxes at `choose`", async () => {
    const user = userEvent.setup();
    const onAnswer = vi.fn();
    const draft = fixtures.draftClericChoices();
    render(<ChoiceList choices={draft.choices} onAnswer={onAnswer} />);
    const languages = group("background:languages");
    expect(within(languages).getByText(/choose 2: 0 of 2 picked/)).toBeTruthy();
    await user.click(within(languages).getByRole("checkbox", { name: "Elvish" }));
    expect(onAnswer).not.toHaveBeenCalled();
    await user.click(within(languages).getByRole("checkbox", { name: "Celestial" }));
    expect(onAnswer).toHaveBeenCalledWith("background:languages", ["elvish", "celestial"]);
    const giant = within(languages).getByRole("checkbox", { name: "Giant" }) as HTMLInputElement;
    expect(giant.disabled).toBe(true);
    // unchecking frees the others again
    await user.click(within(languages).getByRole("checkbox", { name: "Elvish" }));
    expect(giant.disabled).toBe(false);
    // a radio answers at once
    await user.click(within(group("class:equipment:0")).getByRole("radio", { name: /Warhammer/ }));
    expect(onAnswer).toHaveBeenLastCalledWith("class:equipment:0", ["warhammer"]);
  });

  it("marks options that need a proficiency", () => {
    const draft = fixtures.draftClericChoices();
    render(<ChoiceList choices={draft.choices} onAnswer={vi.fn()} />);
    const armour = group("class:equipment:1");
    const chain = draft.choices.find((c) => c.id === "class:equipment:1")!.options.find((o) => o.key === "chain-mail")!;
    expect(chain.requires_proficiency?.length).toBeGreaterThan(0);
    expect(within(armour).getByRole("radio", { name: /Chain Mail.*if proficient/ })).toBeTruthy();
  });

  it("shows the server's refusal inside the choice it names", () => {
    const draft = fixtures.draftClericChoices();
    const problem = fixtures.problemChoice();
    render(<ChoiceList choices={draft.choices} errors={fieldErrors(problem.errors)} onAnswer={vi.fn()} />);
    const skills = group("class:proficiencies:0");
    expect(skills.getAttribute("aria-invalid")).toBe("true");
    const message = document.getElementById(skills.getAttribute("aria-describedby")!);
    expect(message?.textContent).toMatch("skill-insight is already granted by another source");
    expect(skills.contains(message)).toBe(true);
    expect(group("background:languages").getAttribute("aria-invalid")).toBeNull();
  });

  it("shows a bundle's sub-choice inside its parent, and the selection the api kept", () => {
    const draft = fixtures.draftFighter();
    const sub = draft.choices.find((c) => c.id.includes("/"))!;
    expect(sub.id).toBe("class:equipment:1/a/0");
    render(<ChoiceList choices={draft.choices} onAnswer={vi.fn()} />);
    const parent = group("class:equipment:1");
    expect(parent.contains(group(sub.id))).toBe(true);
    expect((within(parent).getAllByRole("radio")[0] as HTMLInputElement).checked).toBe(true); // bundle a, selected
    expect(within(group(sub.id)).getAllByRole("radio")).toHaveLength(sub.options.length);
    // top level: every choice without a parent
    expect(nestChoices(draft.choices).map((n) => n.choice.id)).toEqual(draft.choices.filter((c) => !c.id.includes("/")).map((c) => c.id));
  });

  it("nests grandchildren under their top-level choice", () => {
    const make = (id: string): Choice => ({ id, desc: id, choose: 1, type: "equipment", options: [{ key: "x", label: "X" }], selected: null });
    const tree = nestChoices([make("a"), make("a/b"), make("a/b/0"), make("c")]);
    expect(tree.map((n) => [n.choice.id, n.children.map((c) => c.id)])).toEqual([
      ["a", ["a/b", "a/b/0"]],
      ["c", []],
    ]);
  });
});

describe("a refused answer", () => {
  it("stays shown next to its choice until that choice is saved", () => {
    const draft = fixtures.draftClericChoices();
    const refusal = { "choices.background:languages": ["common is already known"] };
    const { rerender } = render(<ChoiceList choices={draft.choices} errors={refusal} onAnswer={vi.fn()} />);
    const languages = () => group("background:languages");
    expect(languages().textContent).toMatch("common is already known");
    // another choice was saved meanwhile: the page's last problem is gone, the refusal is not
    rerender(<ChoiceList choices={draft.choices} errors={{}} onAnswer={vi.fn()} />);
    expect(languages().textContent).toMatch("common is already known");
    expect(languages().getAttribute("aria-invalid")).toBe("true");
    // the api accepted an answer for it: the refusal goes
    const saved = draft.choices.map((c) => (c.id === "background:languages" ? { ...c, selected: ["elvish", "celestial"] } : c));
    rerender(<ChoiceList choices={saved} errors={{}} onAnswer={vi.fn()} />);
    expect(languages().textContent).not.toMatch("common is already known");
    expect(languages().getAttribute("aria-invalid")).toBeNull();
  });
});
