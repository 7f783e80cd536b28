// Every open choice of a draft or a level-up, rendered from its `choices` structure alone:
// {id, desc, choose, type, options: [{key, label, items, requires_proficiency, then_choose}],
// selected}. choose = 1 is a radio group, more is a checkbox group capped at `choose`.
// Sub-choices (`<id>/<letter>/<n>`, `<id>/<letter>`) open once their bundle is selected; the
// api lists them as choices of their own, shown here inside their parent.
import { useEffect, useId, useMemo, useRef, useState } from "react";
import type { Choice, ChoiceOption } from "../api/types";
import { FieldMessage } from "./common";

export interface ChoiceListProps {
  choices: Choice[];
  /** Reasons by field (`choices.<id>`), from the last refused request or `missing`. */
  errors?: Record<string, string[]>;
  /** Send a complete answer for one choice (the parent PUTs it and refreshes `choices`). */
  onAnswer: (choiceId: string, keys: string[]) => Promise<void> | void;
  disabled?: boolean;
}

/** Top-level choices with their sub-choices attached, in the api's order. */
export function nestChoices(choices: Choice[]): { choice: Choice; children: Choice[] }[] {
  const ids = new Set(choices.map((c) => c.id));
  const parentOf = (id: string): string | null => {
    let cut = id.lastIndexOf("/");
    while (cut > 0) {
      const candidate = id.slice(0, cut);
      if (ids.has(candidate)) return candidate;
      cut = candidate.lastIndexOf("/");
    }
    return null;
  };
  const roots: { choice: Choice; children: Choice[] }[] = [];
  const byId = new Map<string, { choice: Choice; children: Choice[] }>();
  for (const choice of choices) {
    const node = { choice, children: [] as Choice[] };
    byId.set(choice.id, node);
  }
  for (const choice of choices) {
    let parent = parentOf(choice.id);
    // attach to the top-level ancestor
    while (parent && parentOf(parent)) parent = parentOf(parent);
    if (parent && byId.has(parent)) byId.get(parent)!.children.push(choice);
    else roots.push(byId.get(choice.id)!);
  }
  return roots;
}

export function ChoiceList({ choices, errors = {}, onAnswer, disabled }: ChoiceListProps) {
  const tree = useMemo(() => nestChoices(choices), [choices]);
  if (!choices.length) return <p className="muted">Nothing to choose here.</p>;
  return (
    <div className="choice-list">
      {tree.map(({ choice, children }) => (
        <ChoiceField key={choice.id} choice={choice} errors={errors} onAnswer={onAnswer} disabled={disabled}>
          {children.map((child) => (
            <ChoiceField key={child.id} choice={child} errors={errors} onAnswer={onAnswer} disabled={disabled} nested />
          ))}
        </ChoiceField>
      ))}
    </div>
  );
}

function optionNotes(option: ChoiceOption): string[] {
  const notes: string[] = [];
  if (option.requires_proficiency?.length) notes.push("if proficient");
  if (option.then_choose?.length) notes.push(`then choose: ${option.then_choose.map((c) => c.desc).join("; ")}`);
  return notes;
}

function ChoiceField({
  choice,
  errors,
  onAnswer,
  disabled,
  nested = false,
  children,
}: {
  choice: Choice;
  errors: Record<string, string[]>;
  onAnswer: ChoiceListProps["onAnswer"];
  disabled?: boolean;
  nested?: boolean;
  children?: React.ReactNode;
}) {
  const uid = useId();
  const [picked, setPicked] = useState<string[]>(choice.selected ?? []);
  const serverSelection = (choice.selected ?? []).join("\u0000");
  useEffect(() => {
    setPicked(choice.selected ?? []);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [serverSelection]);
  // A refusal stays shown until this choice is saved, even when another choice's request
  // (which clears the page's last problem) comes in between.
  const incoming = errors[`choices.${choice.id}`] ?? [];
  const incomingKey = incoming.join("\u0000");
  const [sticky, setSticky] = useState<string[]>([]);
  useEffect(() => {
    if (incoming.length) setSticky(incoming);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [incomingKey]);
  const savedSelection = useRef(serverSelection);
  useEffect(() => {
    if (savedSelection.current === serverSelection) return;
    savedSelection.current = serverSelection;
    setSticky([]);
  }, [serverSelection]);
  const messages = [...new Set([...incoming, ...sticky])];
  const errorId = `${uid}-error`;
  const single = choice.choose === 1;
  const full = picked.length >= choice.choose;
  const answered = !!choice.selected && choice.selected.length === choice.choose;

  const toggle = (key: string, checked: boolean) => {
    let next: string[];
    if (single) next = [key];
    else if (checked) next = picked.includes(key) ? picked : [...picked, key];
    else next = picked.filter((k) => k !== key);
    setPicked(next);
    if (next.length === choice.choose) void onAnswer(choice.id, next);
  };

  return (
    <fieldset
      className={`choice ${nested ? "choice-nested" : ""} ${messages.length ? "has-error" : ""} ${answered ? "answered" : ""}`}
      aria-describedby={messages.length ? errorId : undefined}
      aria-invalid={messages.length ? true : undefined}
      data-choice-id={choice.id}
    >
      <legend>
        <span className="choice-desc">{choice.desc}</span>{" "}
        <span className="choice-count">
          {single ? "choose 1" : `choose ${choice.choose}: ${picked.length} of ${choice.choose} picked`}
          {answered && <span className="saved"> · saved</span>}
        </span>
      </legend>
      <FieldMessage id={errorId} messages={messages} />
      <div className={`options ${choice.options.length > 8 ? "options-many" : ""}`}>
        {choice.options.map((option) => {
          const checked = picked.includes(option.key);
          const notes = optionNotes(option);
          return (
            <label key={option.key} className={`option ${checked ? "checked" : ""}`}>
              <input
                type={single ? "radio" : "checkbox"}
                name={`${uid}-${choice.id}`}
                value={option.key}
                checked={checked}
                disabled={disabled || (!single && full && !checked)}
                onChange={(event) => toggle(option.key, event.target.checked)}
              />
              <span className="option-label">
                {option.label}
                {notes.length > 0 && <small className="muted"> ({notes.join("; ")})</small>}
              </span>
            </label>
          );
        })}
      </div>
      {children}
    </fieldset>
  );
}
