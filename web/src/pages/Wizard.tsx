// The creation wizard: one page per step of the server-side draft. Every page saves to the
// api (which validates it against what is already chosen) and shows the api's reasons next to
// the fields they name; the stepper shows what is still missing, and a draft can be resumed
// at any time from "My characters".
import { useEffect, useId, useMemo, useState, type FormEvent, type ReactNode } from "react";
import { Link, Navigate, useNavigate, useParams } from "react-router-dom";
import { ABILITIES, ABILITY_NAMES, type Ability, type Character, type Draft, type Spell, type SrdBackground, type SrdClass, type SrdRace } from "../api/types";
import { useAuth } from "../auth";
import { CappedChecks } from "../components/CappedChecks";
import { ChoiceList } from "../components/ChoiceList";
import { ErrorSummary, FieldMessage, Loading, signed, titleCase, toShown, useLoad, useProblem, useTitle, type Shown } from "../components/common";
import { SheetView } from "../components/SheetView";
import { budget, canLower, canRaise, modifier, POINT_BUY_BUDGET, POINT_BUY_MAX, POINT_BUY_MIN, STANDARD_ARRAY } from "../rules/pointBuy";
import { rum, WizardClock } from "../rum";
import { srd } from "../srd";
import { endsServerStep, isDone, isEquipmentChoice, isStep, missingFor, nextStep, previousStep, resumeStep, STEPS, visibleSteps } from "./wizardSteps";

/** One clock per draft for this page load (kept across the wizard's pages). */
const clocks = new Map<string, WizardClock>();
function clockFor(draftId: string): WizardClock {
  let clock = clocks.get(draftId);
  if (!clock) {
    clock = new WizardClock();
    clocks.set(draftId, clock);
  }
  return clock;
}

export function WizardResume() {
  const { draftId = "" } = useParams();
  const { call } = useAuth();
  const loaded = useLoad((signal) => call<Draft>(`/api/characters/drafts/${draftId}`, { signal }), [draftId]);
  if (loaded.error)
    return (
      <div>
        <h1>Create a character</h1>
        <ErrorSummary shown={loaded.error} />
        <Link to="/characters">Back to my characters</Link>
      </div>
    );
  if (!loaded.data) return <Loading label="Opening the draft…" />;
  if (loaded.data.character_id) return <Navigate to={`/characters/${loaded.data.character_id}`} replace />;
  return <Navigate to={`/create/${draftId}/${resumeStep(loaded.data)}`} replace />;
}

export interface StepProps {
  draft: Draft;
  /** Send a step to the api; the new draft on success, undefined when refused (shown). */
  save: (path: string, body?: unknown, method?: string) => Promise<Draft | undefined>;
  problem: Shown | null;
  setProblem: (shown: Shown | null) => void;
  forward: () => void;
  busy: boolean;
}

export function WizardPage() {
  const { draftId = "", step = "" } = useParams();
  const { call } = useAuth();
  const navigate = useNavigate();
  const loaded = useLoad((signal) => call<Draft>(`/api/characters/drafts/${draftId}`, { signal }), [draftId]);
  const draft = loaded.data;
  const { shown, setShown, run } = useProblem();
  const [busy, setBusy] = useState(false);
  const slug = isStep(step) ? step : null;
  const info = STEPS.find((s) => s.slug === slug);
  useTitle(info ? `New character: ${info.title}` : "New character");

  // Time on each step, for real-user monitoring.
  useEffect(() => {
    if (!info || !draftId) return;
    const clock = clockFor(draftId);
    clock.show(info.server);
    return () => clock.pause();
  }, [draftId, info]);

  useEffect(() => setShown(null), [slug, setShown]);

  if (!slug) return <Navigate to={`/create/${draftId}`} replace />;
  if (loaded.error)
    return (
      <div>
        <h1>Create a character</h1>
        <ErrorSummary shown={loaded.error} />
        <Link to="/characters">Back to my characters</Link>
      </div>
    );
  if (!draft) return <Loading label="Opening the draft…" />;
  if (draft.character_id)
    return (
      <div>
        <h1>Create a character</h1>
        <p>
          This draft is finished. <Link to={`/characters/${draft.character_id}`}>Open the character</Link>.
        </p>
      </div>
    );

  const save = async (path: string, body?: unknown, method = "PUT") => {
    setBusy(true);
    const updated = await run(() =>
      call<Draft>(`/api/characters/drafts/${draftId}${path}`, { method, body }),
    );
    setBusy(false);
    if (updated) loaded.setData(updated);
    return updated;
  };

  const forward = () => {
    const current = STEPS.find((s) => s.slug === slug)!;
    if (endsServerStep(draft, slug)) rum.wizardStep(current.server, clockFor(draftId).complete(current.server));
    const next = nextStep(draft, slug);
    if (next) navigate(`/create/${draftId}/${next}`);
  };

  const props: StepProps = { draft, save, problem: shown, setProblem: setShown, forward, busy };
  const steps = visibleSteps(draft);
  const position = steps.findIndex((s) => s.slug === slug);
  const previous = previousStep(draft, slug);

  return (
    <div className="wizard">
      <h1>
        {draft.chosen.details?.name ? `Creating ${draft.chosen.details.name}` : "Create a character"}
      </h1>
      <nav aria-label="Wizard steps" className="stepper">
        <ol>
          {steps.map((s, i) => {
            const open = s.slug !== "review" && !isDone(draft, s.slug);
            const state = s.slug === slug ? "current" : s.slug === "review" ? "review" : open ? "open" : "done";
            return (
              <li key={s.slug} className={`step step-${state}`}>
                <Link to={`/create/${draftId}/${s.slug}`} aria-current={s.slug === slug ? "step" : undefined}>
                  <span className="step-number" aria-hidden="true">
                    {state === "done" ? "✓" : i + 1}
                  </span>
                  <span className="step-title">{s.title}</span>
                  <span className="visually-hidden">{state === "open" ? " (to do)" : state === "done" ? " (done)" : ""}</span>
                </Link>
              </li>
            );
          })}
        </ol>
      </nav>
      <section className="wizard-step card" aria-labelledby="step-heading">
        <h2 id="step-heading" tabIndex={-1} data-focus-target>
          <span className="muted">
            Step {position + 1} of {steps.length}:
          </span>{" "}
          {info!.title}
        </h2>
        {slug === "race" && <RaceStep {...props} />}
        {slug === "class" && <ClassStep {...props} />}
        {slug === "background" && <BackgroundStep {...props} />}
        {slug === "abilities" && <AbilitiesStep {...props} />}
        {slug === "skills" && <ChoicesStep {...props} kind="skills" />}
        {slug === "equipment" && <ChoicesStep {...props} kind="equipment" />}
        {slug === "spells" && <SpellsStep {...props} />}
        {slug === "details" && <DetailsStep {...props} />}
        {slug === "review" && <ReviewStep {...props} />}
      </section>
      {previous && (
        <p>
          <Link to={`/create/${draftId}/${previous}`}>← Back to {STEPS.find((s) => s.slug === previous)!.title}</Link>
        </p>
      )}
    </div>
  );
}

function StepButtons({ busy, disabled = false, label = "Save and continue", children }: { busy: boolean; disabled?: boolean; label?: string; children?: ReactNode }) {
  return (
    <div className="step-buttons">
      {children}
      <button type="submit" className="button primary" disabled={busy || disabled}>
        {busy ? "Saving…" : label}
      </button>
    </div>
  );
}

const errorsOf = (problem: Shown | null, ...fields: string[]) => fields.flatMap((f) => problem?.fields[f] ?? []);

function bonusText(bonuses: { ability: Ability; bonus: number }[]): string {
  return bonuses.map((b) => `${b.ability.toUpperCase()} ${signed(b.bonus)}`).join(", ");
}

// -- race -------------------------------------------------------------------------------------
function RaceStep({ draft, save, problem, forward, busy }: StepProps) {
  const races = useLoad(() => srd.races(), []);
  const [race, setRace] = useState(draft.chosen.race ?? "");
  const [subrace, setSubrace] = useState(draft.chosen.subrace ?? "");
  const chosen = races.data?.find((r) => r.index === race);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (await save("/race", { race, subrace: subrace || null })) forward();
  };
  if (!races.data) return races.error ? <ErrorSummary shown={races.error} /> : <Loading />;
  const raceErrors = errorsOf(problem, "race");
  const subraceErrors = errorsOf(problem, "subrace");
  return (
    <form onSubmit={submit}>
      <ErrorSummary shown={problem} handled={(f) => f === "race" || f === "subrace"} />
      <fieldset className="cards-radio" aria-describedby={raceErrors.length ? "race-error" : undefined} aria-invalid={raceErrors.length ? true : undefined}>
        <legend>Choose a race</legend>
        <FieldMessage id="race-error" messages={raceErrors} />
        {races.data.map((r: SrdRace) => (
          <label key={r.index} className={`radio-card ${race === r.index ? "checked" : ""}`}>
            <input
              type="radio"
              name="race"
              value={r.index}
              checked={race === r.index}
              onChange={() => {
                setRace(r.index);
                setSubrace(r.subraces.length === 1 ? r.subraces[0].index : "");
              }}
            />
            <span className="radio-card-title">{r.name}</span>
            <span className="radio-card-meta">
              {bonusText(r.ability_bonuses) || "ability bonuses chosen later"} · speed {r.speed} ft · {r.size}
            </span>
          </label>
        ))}
      </fieldset>
      {chosen && chosen.subraces.length > 0 && (
        <fieldset className="cards-radio" aria-describedby={subraceErrors.length ? "subrace-error" : undefined} aria-invalid={subraceErrors.length ? true : undefined}>
          <legend>Choose a subrace of the {chosen.name}</legend>
          <FieldMessage id="subrace-error" messages={subraceErrors} />
          {chosen.subraces.map((s) => (
            <label key={s.index} className={`radio-card ${subrace === s.index ? "checked" : ""}`}>
              <input type="radio" name="subrace" value={s.index} checked={subrace === s.index} onChange={() => setSubrace(s.index)} />
              <span className="radio-card-title">{s.name}</span>
              <span className="radio-card-meta">{bonusText(s.ability_bonuses)}</span>
            </label>
          ))}
        </fieldset>
      )}
      {chosen && (
        <details className="about">
          <summary>Traits of the {chosen.name}</summary>
          <ul>
            {[...chosen.traits, ...(chosen.subraces.find((s) => s.index === subrace)?.traits ?? [])].map((t) => (
              <li key={t.index}>
                <strong>{t.name}.</strong> {t.desc.join(" ")}
              </li>
            ))}
          </ul>
        </details>
      )}
      <StepButtons busy={busy} disabled={!race} />
    </form>
  );
}

// -- class ------------------------------------------------------------------------------------
function ClassStep({ draft, save, problem, forward, busy }: StepProps) {
  const classes = useLoad(() => srd.classes(), []);
  const [klass, setKlass] = useState(draft.chosen.class ?? "");
  const [subclass, setSubclass] = useState(draft.chosen.subclass ?? "");
  const chosen = classes.data?.find((c) => c.index === klass);
  const needsSubclass = !!chosen && chosen.subclass_level === 1;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (await save("/class", { class: klass, subclass: needsSubclass ? subclass || null : null })) forward();
  };
  if (!classes.data) return classes.error ? <ErrorSummary shown={classes.error} /> : <Loading />;
  const classErrors = errorsOf(problem, "class");
  const subErrors = errorsOf(problem, "subclass");
  return (
    <form onSubmit={submit}>
      <ErrorSummary shown={problem} handled={(f) => f === "class" || f === "subclass"} />
      {draft.chosen.class && <p className="hint">Changing the class forgets the class's earlier choices and spells.</p>}
      <fieldset className="cards-radio" aria-describedby={classErrors.length ? "class-error" : undefined} aria-invalid={classErrors.length ? true : undefined}>
        <legend>Choose a class</legend>
        <FieldMessage id="class-error" messages={classErrors} />
        {classes.data.map((c: SrdClass) => (
          <label key={c.index} className={`radio-card ${klass === c.index ? "checked" : ""}`}>
            <input
              type="radio"
              name="class"
              value={c.index}
              checked={klass === c.index}
              onChange={() => {
                setKlass(c.index);
                setSubclass(c.subclass_level === 1 && c.subclasses.length === 1 ? c.subclasses[0].index : "");
              }}
            />
            <span className="radio-card-title">{c.name}</span>
            <span className="radio-card-meta">
              d{c.hit_die} hit die · saves {c.saving_throws.map((s) => s.name).join(", ")}
              {c.spellcasting_ability ? ` · casts with ${c.spellcasting_ability.toUpperCase()}` : ""}
            </span>
          </label>
        ))}
      </fieldset>
      {needsSubclass && (
        <div className="field">
          <label htmlFor="subclass">{chosen.name} subclass (chosen at level 1)</label>
          <select
            id="subclass"
            value={subclass}
            required
            onChange={(e) => setSubclass(e.target.value)}
            aria-invalid={subErrors.length ? true : undefined}
            aria-describedby={subErrors.length ? "subclass-error" : undefined}
          >
            <option value="">Choose…</option>
            {chosen.subclasses.map((s) => (
              <option key={s.index} value={s.index}>
                {s.name}
              </option>
            ))}
          </select>
          <FieldMessage id="subclass-error" messages={subErrors} />
        </div>
      )}
      {chosen && !needsSubclass && <p className="hint">The {chosen.name} chooses a subclass at level {chosen.subclass_level}.</p>}
      <StepButtons busy={busy} disabled={!klass} />
    </form>
  );
}

// -- background -------------------------------------------------------------------------------
function BackgroundStep({ draft, save, problem, forward, busy }: StepProps) {
  const backgrounds = useLoad(() => srd.backgrounds(), []);
  const [background, setBackground] = useState(draft.chosen.background ?? "");
  const chosen = backgrounds.data?.find((b) => b.index === background);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (await save("/background", { background })) forward();
  };
  if (!backgrounds.data) return backgrounds.error ? <ErrorSummary shown={backgrounds.error} /> : <Loading />;
  const errors = errorsOf(problem, "background");
  return (
    <form onSubmit={submit}>
      <ErrorSummary shown={problem} handled={(f) => f === "background"} />
      <fieldset className="cards-radio" aria-describedby={errors.length ? "background-error" : undefined} aria-invalid={errors.length ? true : undefined}>
        <legend>Choose a background</legend>
        <FieldMessage id="background-error" messages={errors} />
        {backgrounds.data.map((b: SrdBackground) => (
          <label key={b.index} className={`radio-card ${background === b.index ? "checked" : ""}`}>
            <input type="radio" name="background" value={b.index} checked={background === b.index} onChange={() => setBackground(b.index)} />
            <span className="radio-card-title">{b.name}</span>
            <span className="radio-card-meta">{b.proficiencies.map((p) => p.name.replace(/^Skill: /, "")).join(", ")}</span>
          </label>
        ))}
      </fieldset>
      {chosen?.feature && (
        <details className="about" open>
          <summary>Feature: {chosen.feature.name}</summary>
          {chosen.feature.desc.map((p, i) => (
            <p key={i}>{p}</p>
          ))}
          {chosen.starting_gold && (
            <p>
              Starting money: {chosen.starting_gold.quantity} {chosen.starting_gold.unit}; equipment:{" "}
              {chosen.starting_equipment.map((e) => `${e.quantity > 1 ? `${e.quantity} × ` : ""}${e.name}`).join(", ")}.
            </p>
          )}
        </details>
      )}
      <StepButtons busy={busy} disabled={!background} />
    </form>
  );
}

// -- ability scores ---------------------------------------------------------------------------
type Method = "standard_array" | "point_buy" | "rolled";
const METHODS: { value: Method; label: string; hint: string }[] = [
  { value: "standard_array", label: "Standard array", hint: "15, 14, 13, 12, 10 and 8, each once" },
  { value: "point_buy", label: "Point buy", hint: `${POINT_BUY_BUDGET} points, scores ${POINT_BUY_MIN} to ${POINT_BUY_MAX}` },
  { value: "rolled", label: "Roll the dice", hint: "4d6, drop the lowest, six times, rolled once on the server" },
];

function racialBonuses(draft: Draft, races: SrdRace[] | null): Record<Ability, number> {
  const out = Object.fromEntries(ABILITIES.map((a) => [a, 0])) as Record<Ability, number>;
  if (draft.preview) {
    for (const a of ABILITIES) out[a] = draft.preview.abilities[a].racial_bonus;
    return out;
  }
  const race = races?.find((r) => r.index === draft.chosen.race);
  const subrace = race?.subraces.find((s) => s.index === draft.chosen.subrace);
  for (const b of [...(race?.ability_bonuses ?? []), ...(subrace?.ability_bonuses ?? [])]) out[b.ability] += b.bonus;
  return out;
}

export function AbilitiesStep({ draft, save, problem, setProblem, forward, busy }: StepProps) {
  const races = useLoad(() => srd.races(), []);
  const current = draft.chosen.ability_scores;
  const [method, setMethod] = useState<Method>(current.method ?? "standard_array");
  const [scores, setScores] = useState<Partial<Record<Ability, number>>>(() => {
    if (current.base) return { ...current.base };
    return {};
  });
  /** Rolled: which set (by position) each ability got. */
  const [assigned, setAssigned] = useState<Partial<Record<Ability, number>>>(() => {
    if (current.method !== "rolled" || !current.base) return {};
    const free = current.rolled.map((r, i) => ({ total: r.total, i }));
    const out: Partial<Record<Ability, number>> = {};
    for (const a of ABILITIES) {
      const at = free.findIndex((f) => f.total === current.base![a]);
      if (at >= 0) {
        out[a] = free[at].i;
        free.splice(at, 1);
      }
    }
    return out;
  });
  const rolled = current.rolled;
  const bonuses = racialBonuses(draft, races.data);

  const switchMethod = (next: Method) => {
    setMethod(next);
    setProblem(null);
    if (next === "point_buy") setScores(Object.fromEntries(ABILITIES.map((a) => [a, POINT_BUY_MIN])));
    else if (next === current.method && current.base) setScores({ ...current.base });
    else setScores({});
  };

  const effective: Partial<Record<Ability, number>> =
    method === "rolled"
      ? Object.fromEntries(ABILITIES.filter((a) => assigned[a] !== undefined).map((a) => [a, rolled[assigned[a]!]?.total]))
      : scores;
  const points = budget(method === "point_buy" ? scores : {});

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (await save("/ability-scores", { method, scores: effective })) forward();
  };

  const usedValues = (except: Ability) => ABILITIES.filter((a) => a !== except).map((a) => scores[a]);
  const usedSets = (except: Ability) => ABILITIES.filter((a) => a !== except).map((a) => assigned[a]);
  const handled = (f: string) => f === "method" || f === "scores" || f.startsWith("scores.");

  return (
    <form onSubmit={submit}>
      <ErrorSummary shown={problem} handled={handled} />
      <fieldset className="segmented" aria-describedby={errorsOf(problem, "method").length ? "method-error" : undefined}>
        <legend>How do you generate your scores?</legend>
        {METHODS.map((m) => (
          <label key={m.value} className={`segment ${method === m.value ? "checked" : ""}`}>
            <input type="radio" name="method" value={m.value} checked={method === m.value} onChange={() => switchMethod(m.value)} />
            <span>
              {m.label}
              <small>{m.hint}</small>
            </span>
          </label>
        ))}
        <FieldMessage id="method-error" messages={errorsOf(problem, "method")} />
      </fieldset>

      {method === "point_buy" && (
        <p className={`budget ${points.over ? "over" : ""}`} role="status" aria-live="polite" data-testid="budget">
          Points spent: <strong>{points.spent ?? "—"}</strong> of {POINT_BUY_BUDGET} ·{" "}
          {points.remaining === null
            ? `every score must be ${POINT_BUY_MIN} to ${POINT_BUY_MAX}`
            : points.over
              ? `${-points.remaining} over budget`
              : `${points.remaining} left`}
        </p>
      )}

      {method === "rolled" && (
        <div className="dice-area">
          {rolled.length === 0 ? (
            <button type="button" className="button primary" disabled={busy} onClick={() => save("/ability-scores/roll", undefined, "POST")}>
              Roll 4d6 six times
            </button>
          ) : (
            <ol className="dice-sets" aria-label="Your rolls (the lowest die of each is dropped)">
              {rolled.map((set, i) => {
                const lowest = set.dice.indexOf(Math.min(...set.dice));
                return (
                  <li key={i} className="dice-set" aria-label={`Roll ${i + 1}: ${set.dice.join(", ")}; the ${set.dice[lowest]} is dropped; total ${set.total}`}>
                    <span aria-hidden="true">
                      {set.dice.map((d, j) => (
                        <span key={j} className={`die ${j === lowest ? "dropped" : ""}`}>
                          {d}
                        </span>
                      ))}
                      <span className="dice-total">= {set.total}</span>
                    </span>
                  </li>
                );
              })}
            </ol>
          )}
          <p className="hint">The server rolls once per draft; the dice stand.</p>
        </div>
      )}

      <FieldMessage id="scores-error" messages={errorsOf(problem, "scores")} />
      <div className="table-wrap">
      <table className="ability-table" aria-describedby={errorsOf(problem, "scores").length ? "scores-error" : undefined}>
        <thead>
          <tr>
            <th scope="col">Ability</th>
            <th scope="col">Base</th>
            <th scope="col">Racial</th>
            <th scope="col">Score</th>
            <th scope="col">
              <abbr title="Modifier">Mod.</abbr>
            </th>
          </tr>
        </thead>
        <tbody>
          {ABILITIES.map((a) => {
            const base = effective[a];
            const total = base === undefined ? undefined : base + bonuses[a];
            const fieldErrors = errorsOf(problem, `scores.${a}`);
            const inputId = `score-${a}`;
            return (
              <tr key={a} className={fieldErrors.length ? "has-error" : ""}>
                <th scope="row">
                  <label htmlFor={inputId} className="ability-full">
                    {ABILITY_NAMES[a]}
                  </label>
                  <span className="ability-short" aria-hidden="true">
                    {a.toUpperCase()}
                  </span>
                </th>
                <td>
                  {method === "standard_array" && (
                    <select
                      id={inputId}
                      value={scores[a] ?? ""}
                      onChange={(e) => setScores({ ...scores, [a]: e.target.value ? Number(e.target.value) : undefined })}
                      aria-invalid={fieldErrors.length ? true : undefined}
                      aria-describedby={fieldErrors.length ? `${inputId}-error` : undefined}
                    >
                      <option value="">—</option>
                      {STANDARD_ARRAY.map((v) => (
                        <option key={v} value={v} disabled={usedValues(a).includes(v)}>
                          {v}
                        </option>
                      ))}
                    </select>
                  )}
                  {method === "point_buy" && (
                    <span className="stepper-input">
                      <button type="button" className="icon-button" aria-label={`Lower ${ABILITY_NAMES[a]}`} disabled={!canLower(scores, a)} onClick={() => setScores({ ...scores, [a]: (scores[a] ?? POINT_BUY_MIN) - 1 })}>
                        −
                      </button>
                      <input
                        id={inputId}
                        type="number"
                        min={POINT_BUY_MIN}
                        max={POINT_BUY_MAX}
                        value={scores[a] ?? POINT_BUY_MIN}
                        onChange={(e) => setScores({ ...scores, [a]: Number(e.target.value) })}
                        aria-invalid={fieldErrors.length ? true : undefined}
                        aria-describedby={fieldErrors.length ? `${inputId}-error` : undefined}
                      />
                      <button type="button" className="icon-button" aria-label={`Raise ${ABILITY_NAMES[a]}`} disabled={!canRaise(scores, a)} onClick={() => setScores({ ...scores, [a]: (scores[a] ?? POINT_BUY_MIN) + 1 })}>
                        +
                      </button>
                    </span>
                  )}
                  {method === "rolled" && (
                    <select
                      id={inputId}
                      value={assigned[a] ?? ""}
                      disabled={!rolled.length}
                      onChange={(e) => setAssigned({ ...assigned, [a]: e.target.value === "" ? undefined : Number(e.target.value) })}
                      aria-invalid={fieldErrors.length ? true : undefined}
                      aria-describedby={fieldErrors.length ? `${inputId}-error` : undefined}
                    >
                      <option value="">—</option>
                      {rolled.map((set, i) => (
                        <option key={i} value={i} disabled={usedSets(a).includes(i)}>
                          {set.total} (roll {i + 1})
                        </option>
                      ))}
                    </select>
                  )}
                  <FieldMessage id={`${inputId}-error`} messages={fieldErrors} />
                </td>
                <td>{bonuses[a] ? signed(bonuses[a]) : "—"}</td>
                <td>{total ?? "—"}</td>
                <td>{total === undefined ? "—" : signed(modifier(total))}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      </div>
      <p className="hint">Racial bonuses chosen later (a half-elf's) show once chosen.</p>
      <StepButtons busy={busy} disabled={(method === "point_buy" && points.over) || Object.keys(effective).length < 6} />
    </form>
  );
}

// -- open choices -----------------------------------------------------------------------------
function ChoicesStep({ draft, save, problem, setProblem, forward, busy, kind }: StepProps & { kind: "skills" | "equipment" }) {
  const [checked, setChecked] = useState(false);
  const choices = useMemo(
    () => draft.choices.filter((c) => isEquipmentChoice(draft, c.id) === (kind === "equipment")),
    [draft, kind],
  );
  const missing = missingFor(draft, kind);
  const errors: Record<string, string[]> = { ...(problem?.fields ?? {}) };
  if (checked) {
    for (const m of missing) {
      const known = errors[m.field] ?? [];
      if (!known.includes(m.reason)) errors[m.field] = [...known, m.reason];
    }
  }

  const answer = async (id: string, keys: string[]) => {
    await save("/choices", { selections: { [id]: keys } });
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (missing.length) {
      setChecked(true);
      setProblem({
        message: `${missing.length} choice${missing.length === 1 ? " is" : "s are"} still open.`,
        fields: Object.fromEntries(missing.map((m) => [m.field, [m.reason]])),
      });
      return;
    }
    forward();
  };
  const known = draft.preview?.proficiencies;
  return (
    <form onSubmit={submit}>
      <ErrorSummary shown={problem} handled={(f) => f.startsWith("choices.")} />
      {kind === "skills" ? (
        <p className="hint">Skills, tools, languages and the other choices your race, class and background open. Each is saved as soon as it is complete.</p>
      ) : (
        <p className="hint">Starting equipment. A bundle may open a choice of its own (“a martial weapon”).</p>
      )}
      {kind === "skills" && known && Object.keys(known).length > 0 && (
        <details className="about">
          <summary>What you already have</summary>
          <dl className="proficiencies">
            {Object.entries(known).map(([group, items]) => (
              <div key={group}>
                <dt>{group}</dt>
                <dd>{items.map((p) => p.name).join(", ")}</dd>
              </div>
            ))}
          </dl>
        </details>
      )}
      {!draft.chosen.race || !draft.chosen.class || !draft.chosen.background ? (
        <p className="hint">Choose a race, a class and a background first: they decide what is open here.</p>
      ) : null}
      <ChoiceList choices={choices} errors={errors} onAnswer={answer} disabled={busy} />
      <StepButtons busy={busy} label="Continue" />
    </form>
  );
}

// -- spells -----------------------------------------------------------------------------------
function SpellsStep({ draft, save, problem, forward, busy }: StepProps) {
  const rules = draft.spell_rules;
  const klass = draft.chosen.class;
  const spells = useLoad(() => (klass && rules ? srd.classSpells(klass) : Promise.resolve([] as Spell[])), [klass, !!rules]);
  const [cantrips, setCantrips] = useState<string[]>(draft.chosen.spells.cantrips ?? []);
  const [known, setKnown] = useState<string[]>(draft.chosen.spells.spells ?? []);
  const [prepared, setPrepared] = useState<string[]>(draft.chosen.spells.prepared ?? []);
  if (!rules) {
    return (
      <form
        onSubmit={(e) => {
          e.preventDefault();
          forward();
        }}
      >
        <p>{klass ? `A level-1 ${titleCase(klass)} casts no spells.` : "Choose a class first."}</p>
        <StepButtons busy={false} label="Continue" />
      </form>
    );
  }
  if (!spells.data) return spells.error ? <ErrorSummary shown={spells.error} /> : <Loading label="Loading the spell list…" />;
  const racial = new Set(draft.choices.filter((c) => c.type === "spell").flatMap((c) => c.selected ?? []));
  const always = new Set(draft.always_prepared);
  const option = (s: Spell) => ({
    key: s.index,
    label: s.name,
    hint: `${s.school.name}${s.ritual ? ", ritual" : ""}${s.concentration ? ", concentration" : ""} · ${s.casting_time}`,
  });
  const cantripOptions = spells.data.filter((s) => s.level === 0 && !racial.has(s.index)).map(option);
  const levelled = spells.data.filter((s) => s.level >= 1 && s.level <= rules.max_level && !always.has(s.index));
  const preparedPool = rules.spellbook ? levelled.filter((s) => known.includes(s.index)) : levelled;
  const handled = (f: string) => f === "spells" || f.startsWith("spells.");

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const body: Record<string, string[]> = { cantrips };
    if (!rules.prepares || rules.spellbook) body.spells = known;
    if (rules.prepares) body.prepared = prepared.filter((p) => !rules.spellbook || known.includes(p));
    if (await save("/spells", body)) forward();
  };

  return (
    <form onSubmit={submit}>
      <ErrorSummary shown={problem} handled={handled} />
      <p className="hint">
        {titleCase(klass)} spells up to level {rules.max_level}; casting ability {ABILITY_NAMES[rules.ability]}; slots:{" "}
        {Object.entries(rules.slots)
          .map(([level, n]) => `${n} of level ${level}`)
          .join(", ") || "none"}
        .
      </p>
      <FieldMessage id="spells-error" messages={errorsOf(problem, "spells")} />
      {rules.cantrips > 0 && (
        <CappedChecks legend={`Cantrips: choose ${rules.cantrips}`} options={cantripOptions} selected={cantrips} max={rules.cantrips} exact onChange={setCantrips} errors={errorsOf(problem, "spells.cantrips", "cantrips")} />
      )}
      {(!rules.prepares || rules.spellbook) && rules.known > 0 && (
        <CappedChecks
          legend={rules.spellbook ? `Your spellbook: choose ${rules.known} spells` : `Spells known: choose ${rules.known}`}
          options={levelled.map(option)}
          selected={known}
          max={rules.known}
          exact
          onChange={setKnown}
          errors={errorsOf(problem, "spells.spells", "spells.known")}
        />
      )}
      {rules.prepares &&
        (rules.prepared === null ? (
          <p className="field-error">
            How many spells you prepare depends on your {ABILITY_NAMES[rules.ability]}: set your ability scores first.
          </p>
        ) : (
          <>
            <CappedChecks
              legend={`Prepared spells: up to ${rules.prepared}${rules.spellbook ? ", from your spellbook" : ""}`}
              options={preparedPool.map(option)}
              selected={prepared.filter((p) => preparedPool.some((s) => s.index === p))}
              max={rules.prepared}
              onChange={setPrepared}
              errors={errorsOf(problem, "spells.prepared", "prepared")}
            />
            {draft.always_prepared.length > 0 && (
              <p className="hint">Always prepared (not counted): {draft.always_prepared.map(titleCase).join(", ")}.</p>
            )}
          </>
        ))}
      <StepButtons busy={busy} />
    </form>
  );
}

// -- details ----------------------------------------------------------------------------------
const PERSONALITY = [
  ["personality_traits", "Personality traits"],
  ["ideals", "Ideals"],
  ["bonds", "Bonds"],
  ["flaws", "Flaws"],
] as const;

function DetailsStep({ draft, save, problem, forward, busy }: StepProps) {
  const uid = useId();
  const alignments = useLoad(() => srd.alignments(), []);
  const backgrounds = useLoad(() => srd.backgrounds(), []);
  const details = draft.chosen.details ?? {};
  const [name, setName] = useState(details.name ?? "");
  const [alignment, setAlignment] = useState(details.alignment ?? "");
  const [backstory, setBackstory] = useState(details.backstory ?? "");
  const [lists, setLists] = useState<Record<string, string>>(() =>
    Object.fromEntries(PERSONALITY.map(([key]) => [key, (details[key] ?? []).join("\n")])),
  );
  const background = backgrounds.data?.find((b) => b.index === draft.chosen.background);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const body: Record<string, unknown> = { name, alignment: alignment || null };
    for (const [key] of PERSONALITY) {
      const items = lists[key].split("\n").map((s) => s.trim()).filter(Boolean);
      body[key] = items;
    }
    if (backstory.trim()) body.backstory = backstory;
    if (await save("/details", body)) forward();
  };
  const fieldErrors = (key: string) =>
    Object.entries(problem?.fields ?? {})
      .filter(([f]) => f === key || f === `details.${key}` || f.startsWith(`${key}.`) || f.startsWith(`details.${key}.`))
      .flatMap(([, reasons]) => reasons);
  const handled = (f: string) => ["name", "alignment", "backstory", ...PERSONALITY.map(([k]) => k)].some((k) => f === k || f === `details.${k}` || f.startsWith(`${k}.`) || f.startsWith(`details.${k}.`));

  return (
    <form onSubmit={submit}>
      <ErrorSummary shown={problem} handled={handled} />
      <div className="field">
        <label htmlFor={`${uid}-name`}>Name</label>
        <input id={`${uid}-name`} value={name} required maxLength={100} autoComplete="off" onChange={(e) => setName(e.target.value)} aria-invalid={fieldErrors("name").length ? true : undefined} aria-describedby={fieldErrors("name").length ? `${uid}-name-error` : undefined} />
        <FieldMessage id={`${uid}-name-error`} messages={fieldErrors("name")} />
      </div>
      <div className="field">
        <label htmlFor={`${uid}-alignment`}>Alignment</label>
        <select id={`${uid}-alignment`} value={alignment} required onChange={(e) => setAlignment(e.target.value)} aria-invalid={fieldErrors("alignment").length ? true : undefined} aria-describedby={fieldErrors("alignment").length ? `${uid}-alignment-error` : undefined}>
          <option value="">Choose…</option>
          {(alignments.data ?? []).map((a) => (
            <option key={a.index} value={a.index}>
              {a.name}
            </option>
          ))}
        </select>
        <FieldMessage id={`${uid}-alignment-error`} messages={fieldErrors("alignment")} />
      </div>
      {PERSONALITY.map(([key, label]) => {
        const suggestions = (background?.[key]?.options ?? []).filter((s): s is string => typeof s === "string");
        return (
          <div className="field" key={key}>
            <label htmlFor={`${uid}-${key}`}>
              {label} <small className="muted">(optional, one per line, at most 4)</small>
            </label>
            <textarea id={`${uid}-${key}`} rows={2} value={lists[key]} onChange={(e) => setLists({ ...lists, [key]: e.target.value })} aria-invalid={fieldErrors(key).length ? true : undefined} aria-describedby={fieldErrors(key).length ? `${uid}-${key}-error` : undefined} />
            <FieldMessage id={`${uid}-${key}-error`} messages={fieldErrors(key)} />
            {suggestions.length > 0 && (
              <details className="suggestions">
                <summary>Suggestions from the {background!.name} background</summary>
                <ul className="plain">
                  {suggestions.map((s) => (
                    <li key={s}>
                      <button type="button" className="link-button" onClick={() => setLists({ ...lists, [key]: [lists[key].trim(), s].filter(Boolean).join("\n") })}>
                        Use<span className="visually-hidden"> as {label.toLowerCase()}</span>:
                      </button>{" "}
                      {s}
                    </li>
                  ))}
                </ul>
              </details>
            )}
          </div>
        );
      })}
      <div className="field">
        <label htmlFor={`${uid}-backstory`}>
          Backstory <small className="muted">(optional)</small>
        </label>
        <textarea id={`${uid}-backstory`} rows={4} value={backstory} onChange={(e) => setBackstory(e.target.value)} />
        <FieldMessage id={`${uid}-backstory-error`} messages={fieldErrors("backstory")} />
      </div>
      <StepButtons busy={busy} />
    </form>
  );
}

// -- review and finalize ----------------------------------------------------------------------
function ReviewStep({ draft, problem, setProblem, busy }: StepProps) {
  const { call } = useAuth();
  const navigate = useNavigate();
  const [finalizing, setFinalizing] = useState(false);
  const finalize = async (event: FormEvent) => {
    event.preventDefault();
    setFinalizing(true);
    setProblem(null);
    try {
      const character = await call<Character>(`/api/characters/drafts/${draft.id}/finalize`, { method: "POST" });
      const clock = clockFor(draft.id);
      rum.wizardStep("finalize", clock.complete("finalize"));
      rum.wizardComplete(clock.total());
      clocks.delete(draft.id);
      navigate(`/characters/${character.id}`);
    } catch (error) {
      setProblem(toShown(error));
      setFinalizing(false);
    }
  };
  const byStep = visibleSteps(draft)
    .filter((s) => s.slug !== "review")
    .map((s) => ({ step: s, missing: missingFor(draft, s.slug) }))
    .filter((entry) => entry.missing.length);
  return (
    <form onSubmit={finalize}>
      <ErrorSummary shown={problem} />
      {byStep.length > 0 ? (
        <div className="missing">
          <p>
            <strong>Still to do before your hero is ready:</strong>
          </p>
          <ul>
            {byStep.map(({ step, missing }) => (
              <li key={step.slug}>
                <Link to={`/create/${draft.id}/${step.slug}`}>{step.title}</Link>: {missing.map((m) => m.reason).join("; ")}
              </li>
            ))}
          </ul>
        </div>
      ) : (
        <p className="ready">Everything is chosen. Check the sheet, then bring your hero to life.</p>
      )}
      {draft.preview ? <SheetView sheet={draft.preview} /> : <p className="muted">The preview appears once race, class and ability scores are set.</p>}
      <div className="step-buttons">
        <button type="submit" className="button primary big" disabled={busy || finalizing || !draft.complete}>
          {finalizing ? "Forging…" : "Finalize character"}
        </button>
      </div>
    </form>
  );
}
