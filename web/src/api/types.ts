// Shapes of the api's answers (docs/api.md), as far as the front end reads them. Fixtures
// captured from a real api (src/test/fixtures) are checked against these in the tests.

export type Ability = "str" | "dex" | "con" | "int" | "wis" | "cha";
export const ABILITIES: Ability[] = ["str", "dex", "con", "int", "wis", "cha"];
export const ABILITY_NAMES: Record<Ability, string> = {
  str: "Strength",
  dex: "Dexterity",
  con: "Constitution",
  int: "Intelligence",
  wis: "Wisdom",
  cha: "Charisma",
};

export interface Ref {
  index: string;
  name: string;
}

export interface Account {
  id: string;
  email: string;
  created_at: string;
}

export interface LoginAnswer {
  access_token: string;
  token_type: string;
  expires_at: string;
}

// -- choices (the same shape in drafts, level-ups and the SRD catalogue) -------------------------
export interface ChoiceOption {
  key: string;
  label: string;
  items?: { index: string; quantity: number }[];
  requires_proficiency?: string[];
  then_choose?: Choice[];
}

export interface Choice {
  id: string;
  desc: string;
  choose: number;
  type: string;
  options: ChoiceOption[];
  selected?: string[] | null;
}

// -- drafts ---------------------------------------------------------------------------------
export interface RolledSet {
  dice: number[];
  total: number;
}

export interface Chosen {
  race: string | null;
  subrace: string | null;
  class: string | null;
  subclass: string | null;
  background: string | null;
  ability_scores: {
    method: "standard_array" | "point_buy" | "rolled" | null;
    base: Record<Ability, number> | null;
    rolled: RolledSet[];
  };
  selections: Record<string, string[]>;
  spells: { cantrips?: string[]; spells?: string[]; prepared?: string[] };
  details: {
    name?: string | null;
    alignment?: string | null;
    personality_traits?: string[] | null;
    ideals?: string[] | null;
    bonds?: string[] | null;
    flaws?: string[] | null;
    backstory?: string | null;
  };
}

export interface SpellRules {
  ability: Ability;
  cantrips: number;
  known: number;
  prepares: boolean;
  prepared: number | null;
  max_level: number;
  slots: Record<string, number>;
  spellbook: boolean;
}

export interface Draft {
  id: string;
  started_at: string;
  updated_at?: string;
  finished_at: string | null;
  character_id: string | null;
  chosen: Chosen;
  choices: Choice[];
  spell_rules: SpellRules | null;
  always_prepared: string[];
  missing: { field: string; reason: string }[];
  complete: boolean;
  preview: Sheet | null;
}

export interface DraftSummary {
  id: string;
  started_at: string;
  updated_at: string;
  finished_at: string | null;
  character_id: string | null;
  chosen: Chosen;
}

// -- the sheet --------------------------------------------------------------------------------
export interface AbilityScore {
  base: number;
  racial_bonus: number;
  improvements?: number;
  score: number;
  modifier: number;
}

export interface SpellcastingClass {
  class: string;
  ability: Ability;
  save_dc: number;
  attack_bonus: number;
  cantrips: string[];
  spells_known: string[];
  prepared: string[];
  always_prepared: string[];
  expanded_list?: string[];
  max_prepared: number | null;
  mystic_arcanum?: string[];
}

export interface Feature {
  index: string;
  name: string;
  source?: string;
  class?: string;
  level?: number;
  desc?: string[];
}

export interface Sheet {
  level: number;
  class?: { index: string; name: string; hit_die: number } | null;
  subclass?: string | null;
  classes: { index: string; name: string; level: number; subclass: string | null; hit_die: number }[];
  race: { index: string; name: string; size?: string } | null;
  subrace: Ref | null;
  background: string | null;
  abilities: Record<Ability, AbilityScore>;
  proficiency_bonus: number;
  hit_points: { max: number; hit_dice: string };
  armor_class: { value: number; source: string; notes: string[] };
  initiative: number;
  speed: number;
  saving_throws: Record<Ability, { proficient: boolean; bonus: number }>;
  skills: Record<
    string,
    { name: string; ability: Ability; proficient: boolean; expertise: boolean; bonus: number }
  >;
  passive_perception: number;
  spellcasting: {
    slots: Record<string, number>;
    pact_magic: { slots: number; level: number } | Record<string, number> | null;
    classes: SpellcastingClass[];
  } | null;
  racial_spells?: { index?: string; name?: string }[] | string[];
  languages: Ref[];
  proficiencies: Record<string, Ref[]>;
  features: Feature[];
  feats?: (Ref | string)[];
}

export interface InventoryItem {
  index: string;
  name: string;
  quantity: number;
  equipped: boolean;
}

export interface Currency {
  cp: number;
  sp: number;
  ep: number;
  gp: number;
  pp: number;
}

export interface Character {
  id: string;
  name: string;
  level: number;
  race: string;
  subrace: string | null;
  class: string;
  subclass: string | null;
  background: string;
  created_at: string;
  updated_at: string;
  details: Chosen["details"];
  notes: string;
  inventory: InventoryItem[];
  currency: Currency;
  sheet: Sheet;
  attribution: string;
}

export interface CharacterSummary {
  id: string;
  name: string;
  level: number;
  race: string;
  subrace: string | null;
  class: string;
  subclass: string | null;
  created_at: string;
  updated_at: string;
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
  attribution?: string;
}

// -- level-ups --------------------------------------------------------------------------------
export interface SpellPlan {
  ability: Ability;
  new_cantrips: number;
  new_spells: number;
  any_class: number;
  any_class_extra?: number;
  prepares: boolean;
  max_prepared: number | null;
  prepared_required?: boolean;
  max_level: number;
  arcanum_level: number | null;
}

export interface LevelUp {
  id: string;
  character_id: string;
  status: "open" | "committed" | "abandoned" | string;
  class: string;
  from_level: number;
  to_level: number;
  class_level: number;
  started_at: string;
  finished_at: string | null;
  chosen: {
    hit_points: { method: "average" | "rolled" | null; roll: number | null };
    subclass: string | null;
    increases: Partial<Record<Ability, number>> | null;
    feat: string | null;
    selections: Record<string, string[]>;
    spells: { cantrips?: string[]; spells?: string[]; prepared?: string[]; arcanum?: string[] };
  };
  hit_points: {
    hit_die: number;
    average: number;
    method: "average" | "rolled" | null;
    roll: number | null;
    constitution_modifier: number;
  };
  subclass_options: string[];
  ability_score_improvement: { available: boolean; feats: string[] };
  choices: Choice[];
  spell_plan: SpellPlan | null;
  missing: { field: string; reason: string }[];
  complete: boolean;
  preview: Sheet | null;
}

export interface LevelUpSummary {
  id: string;
  status: string;
  class: string;
  to_level: number;
  started_at: string;
  finished_at: string | null;
}

// -- the SRD catalogue ------------------------------------------------------------------------
export interface SrdClass {
  index: string;
  name: string;
  hit_die: number;
  saving_throws: Ref[];
  spellcasting_ability: Ability | null;
  spellcasting_level: number | null;
  subclass_level: number;
  subclasses: Ref[];
}

export interface SrdRace {
  index: string;
  name: string;
  speed: number;
  size: string;
  ability_bonuses: { ability: Ability; bonus: number }[];
  languages: Ref[];
  traits: { index: string; name: string; desc: string[] }[];
  subraces: {
    index: string;
    name: string;
    desc: string;
    ability_bonuses: { ability: Ability; bonus: number }[];
    traits: { index: string; name: string; desc: string[] }[];
  }[];
}

export interface Suggestions {
  choose: number;
  options: (string | { desc?: string; alignments?: unknown })[];
}

export interface SrdBackground {
  index: string;
  name: string;
  proficiencies: Ref[];
  starting_equipment: { index: string; name: string; quantity: number }[];
  starting_gold: { quantity: number; unit: string } | null;
  feature: { name: string; desc: string[] } | null;
  personality_traits?: Suggestions | null;
  ideals?: Suggestions | null;
  bonds?: Suggestions | null;
  flaws?: Suggestions | null;
}

export interface Alignment {
  index: string;
  name: string;
  abbreviation: string;
}

export interface Spell {
  index: string;
  name: string;
  desc: string[];
  range: string;
  components: string[];
  ritual: boolean;
  duration: string;
  concentration: boolean;
  casting_time: string;
  level: number;
  school: Ref;
  classes: Ref[];
}

export interface EquipmentItem {
  index: string;
  name: string;
  equipment_category?: Ref;
  cost?: { quantity: number; unit: string };
}

// -- lookup and assistant ---------------------------------------------------------------------
export interface SearchHit {
  kind: string;
  index: string;
  name: string;
  snippet: string;
  score: number;
  url: string;
}

export interface SearchPage extends Page<SearchHit> {
  query: string;
  corrected_query: string | null;
}

export interface RuleEntry {
  kind: string;
  index: string;
  name: string;
  text: string;
  data: Record<string, unknown>;
  attribution: string;
}

export interface Citation {
  n: number;
  kind: string;
  index: string;
  name: string;
  section: string | null;
  url: string;
}

export interface AssistantAnswer {
  answer: string;
  citations: Citation[];
  provider: string;
}
