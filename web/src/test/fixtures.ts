// Real api answers captured by scripts/capture-fixtures.mjs (see docs/web.md to regenerate).
import type { AssistantAnswer, Character, Draft, LevelUp, SearchPage } from "../api/types";
import type { Problem } from "../api/client";
import assistantAnswer from "./fixtures/assistant-answer.json";
import character from "./fixtures/character.json";
import characterLevel2 from "./fixtures/character-level-2.json";
import draftClericChoices from "./fixtures/draft-cleric-choices.json";
import draftClericSpells from "./fixtures/draft-cleric-spells.json";
import draftComplete from "./fixtures/draft-complete.json";
import draftFighter from "./fixtures/draft-fighter-subchoices.json";
import draftNew from "./fixtures/draft-new.json";
import levelUpAsi from "./fixtures/level-up-asi.json";
import levelUpNew from "./fixtures/level-up-new.json";
import levelUpReady from "./fixtures/level-up-ready.json";
import levelUpSubclass from "./fixtures/level-up-subclass.json";
import multiclassRefused from "./fixtures/multiclass-refused.json";
import problemAsi from "./fixtures/problem-asi-refused.json";
import problemChoice from "./fixtures/problem-choice-refused.json";
import problemSpell from "./fixtures/problem-spell-refused.json";
import rulesSearch from "./fixtures/rules-search.json";
import rulesSearchTypo from "./fixtures/rules-search-typo.json";

const clone = <T,>(value: unknown): T => structuredClone(value) as T;

export const fixtures = {
  draftNew: () => clone<Draft>(draftNew),
  draftClericChoices: () => clone<Draft>(draftClericChoices),
  draftClericSpells: () => clone<Draft>(draftClericSpells),
  draftComplete: () => clone<Draft>(draftComplete),
  draftFighter: () => clone<Draft>(draftFighter),
  character: () => clone<Character>(character),
  characterLevel2: () => clone<Character>(characterLevel2),
  levelUpNew: () => clone<LevelUp>(levelUpNew),
  levelUpAsi: () => clone<LevelUp>(levelUpAsi),
  levelUpReady: () => clone<LevelUp>(levelUpReady),
  levelUpSubclass: () => clone<LevelUp>(levelUpSubclass),
  multiclassRefused: () => clone<Problem>(multiclassRefused),
  problemAsi: () => clone<Problem>(problemAsi),
  problemChoice: () => clone<Problem>(problemChoice),
  problemSpell: () => clone<Problem>(problemSpell),
  rulesSearch: () => clone<SearchPage>(rulesSearch),
  rulesSearchTypo: () => clone<SearchPage>(rulesSearchTypo),
  assistantAnswer: () => clone<AssistantAnswer>(assistantAnswer),
};

/** A fetch Response as the api sends it. */
export function jsonResponse(body: unknown, status = 200, type = "application/json"): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { "Content-Type": type } });
}

export function problemResponse(problem: Problem): Response {
  return jsonResponse(problem, problem.status, "application/problem+json");
}
