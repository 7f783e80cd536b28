// A group of checkboxes with a cap (spells: "choose 3 cantrips"): further boxes are disabled
// once the cap is reached; the count is announced politely.
import { useId, type ReactNode } from "react";
import { FieldMessage } from "./common";

export interface CheckOption {
  key: string;
  label: ReactNode;
  hint?: ReactNode;
  locked?: boolean;
}

export function CappedChecks({
  legend,
  options,
  selected,
  max,
  exact = false,
  onChange,
  errors = [],
  disabled,
}: {
  legend: ReactNode;
  options: CheckOption[];
  selected: string[];
  max: number;
  exact?: boolean;
  onChange: (keys: string[]) => void;
  errors?: string[];
  disabled?: boolean;
}) {
  const uid = useId();
  const full = selected.length >= max;
  return (
    <fieldset className={`choice ${errors.length ? "has-error" : ""}`} aria-describedby={errors.length ? `${uid}-error` : undefined} aria-invalid={errors.length ? true : undefined}>
      <legend>
        {legend}{" "}
        <span className="choice-count" aria-live="polite">
          {selected.length} of {exact ? max : `up to ${max}`} chosen
        </span>
      </legend>
      <FieldMessage id={`${uid}-error`} messages={errors} />
      <div className={`options ${options.length > 8 ? "options-many" : ""}`}>
        {options.map((option) => {
          const checked = option.locked || selected.includes(option.key);
          return (
            <label key={option.key} className={`option ${checked ? "checked" : ""}`}>
              <input
                type="checkbox"
                value={option.key}
                checked={checked}
                disabled={disabled || option.locked || (full && !checked)}
                onChange={(event) =>
                  onChange(event.target.checked ? [...selected, option.key] : selected.filter((k) => k !== option.key))
                }
              />
              <span className="option-label">
                {option.label}
                {option.hint && <small className="muted"> {option.hint}</small>}
              </span>
            </label>
          );
        })}
      </div>
    </fieldset>
  );
}
