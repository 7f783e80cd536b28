// The wizard's pages and how they map to the api's draft steps and `missing` fields.
import type { Draft } from "../api/types";
import type { WizardStep } from "../rum";

export type StepSlug = "race" | "class" | "background" | "abilities" | "skills" | "equipment" | "spells" | "details" | "review";

export interface StepInfo {
  slug: StepSlug;
  title: string;
  /** The api's step (for wizard timings). */
  server: WizardStep;
}

export const STEPS: StepInfo[] = [
  { slug: "race", title: "Race", server: "race" },
  { slug: "class", title: "Class", server: "class" },
  { slug: "background", title: "Background", server: "background" },
  { slug: "abilities", title: "Ability scores", server: "ability-scores" },
  { slug: "skills", title: "Proficiencies", server: "choices" },
  { slug: "equipment", title: "Equipment", server: "choices" },
  { slug: "spells", title: "Spells", server: "spells" },
  { slug: "details", title: "Details", server: "details" },
  { slug: "review", title: "Review", server: "finalize" },
];

export function isStep(slug: string | undefined): slug is StepSlug {
  return STEPS.some((s) => s.slug === slug);
}

/** Steps shown for this draft: no spells page for a class that casts none at level 1. */
export function visibleSteps(draft: Draft | null): StepInfo[] {
  return STEPS.filter((s) => s.slug !== "spells" || !draft || !!draft.spell_rules || !draft.chosen.class);
}

export function isEquipmentChoice(draft: Draft, id: string): boolean {
  const choice = draft.choices.find((c) => c.id === id);
  if (choice) return choice.type === "equipment";
  return /^(class|background):equipment/.test(id);
}

/** Which page a field of `missing` or of a problem belongs to. */
export function stepOfField(draft: Draft, field: string): StepSlug {
  if (field === "race" || field === "subrace") return "race";
  if (field === "class" || field === "subclass") return "class";
  if (field === "background") return "background";
  if (field === "ability_scores" || field === "method" || field === "scores" || field.startsWith("scores.")) return "abilities";
  if (field.startsWith("choices.")) return isEquipmentChoice(draft, field.slice("choices.".length)) ? "equipment" : "skills";
  if (field === "spells" || field.startsWith("spells.") || field === "cantrips" || field === "prepared") return "spells";
  if (field.startsWith("details.") || field === "name" || field === "alignment") return "details";
  return "review";
}

export function missingFor(draft: Draft, slug: StepSlug): { field: string; reason: string }[] {
  return draft.missing.filter((m) => stepOfField(draft, m.field) === slug);
}

/** Whether a page is done: what it sets is chosen and nothing of it is missing. (Before the
 * race, class and background are chosen the api lists no choices yet: those pages are not
 * done then, though nothing is `missing` for them.) */
export function isDone(draft: Draft, slug: StepSlug): boolean {
  const c = draft.chosen;
  if (missingFor(draft, slug).length) return false;
  switch (slug) {
    case "race":
      return !!c.race;
    case "class":
      return !!c.class;
    case "background":
      return !!c.background;
    case "abilities":
      return !!c.ability_scores.method;
    case "skills":
    case "equipment":
      return !!(c.race && c.class && c.background);
    case "spells":
      return !!c.class;
    case "details":
      return !!(c.details?.name && c.details?.alignment);
    case "review":
      return draft.complete;
  }
}

/** Where to resume: the first page not done, else the review. */
export function resumeStep(draft: Draft): StepSlug {
  for (const step of visibleSteps(draft)) {
    if (step.slug !== "review" && !isDone(draft, step.slug)) return step.slug;
  }
  return "review";
}

export function nextStep(draft: Draft | null, slug: StepSlug): StepSlug | null {
  const steps = visibleSteps(draft);
  const at = steps.findIndex((s) => s.slug === slug);
  return at >= 0 && at + 1 < steps.length ? steps[at + 1].slug : null;
}

export function previousStep(draft: Draft | null, slug: StepSlug): StepSlug | null {
  const steps = visibleSteps(draft);
  const at = steps.findIndex((s) => s.slug === slug);
  return at > 0 ? steps[at - 1].slug : null;
}

/** The last page of a server step (its timing is sent when the player leaves it forwards). */
export function endsServerStep(draft: Draft | null, slug: StepSlug): boolean {
  const steps = visibleSteps(draft);
  const at = steps.findIndex((s) => s.slug === slug);
  return at >= 0 && (at + 1 >= steps.length || steps[at + 1].server !== steps[at].server);
}
