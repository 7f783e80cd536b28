// The level-up flow: pick the class (the same or a new one: multiclassing, checked by the api),
// hit points (the fixed average or one roll on the server), subclass, Ability Score
// Improvement or feat, the level's choices and spells; a preview of the sheet; commit or abandon.
import { useEffect, useId, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { ABILITIES, ABILITY_NAMES, type Ability, type Character, type LevelUp, type LevelUpSummary, type Spell, type SrdClass } from "../api/types";
import { useAuth } from "../auth";
import { CappedChecks } from "../components/CappedChecks";
import { ChoiceList } from "../components/ChoiceList";
import { ErrorSummary, FieldMessage, Loading, signed, titleCase, toShown, useLoad, useProblem, useTitle } from "../components/common";
import { SheetView } from "../components/SheetView";
import { srd } from "../srd";

export function LevelUpPage() {
  const { id = "" } = useParams();
  const { call } = useAuth();
  const navigate = useNavigate();
  const character = useLoad((signal) => call<Character>(`/api/characters/${id}`, { signal }), [id]);
  const classes = useLoad(() => srd.classes(), []);
  const [session, setSession] = useState<LevelUp | null>(null);
  const [checking, setChecking] = useState(true);
  const { shown, setShown, run, forField } = useProblem();
  const [busy, setBusy] = useState(false);
  useTitle(character.data ? `Level up ${character.data.name}` : "Level up");

  // An open level-up (left by an earlier visit) is resumed.
  useEffect(() => {
    let cancelled = false;
    (async () => {
      try {
        const history = await call<LevelUpSummary[]>(`/api/characters/${id}/level-ups`);
        const open = history.find((h) => h.status === "open");
        if (open && !cancelled) setSession(await call<LevelUp>(`/api/characters/${id}/level-ups/${open.id}`));
      } catch (error) {
        if (!cancelled) setShown(toShown(error));
      } finally {
        if (!cancelled) setChecking(false);
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [id, call, setShown]);

  const base = session ? `/api/characters/${id}/level-ups/${session.id}` : "";
  const step = async (path: string, body?: unknown, method = "PUT") => {
    setBusy(true);
    const view = await run(() => call<LevelUp>(`${base}${path}`, { method, body }));
    setBusy(false);
    if (view) setSession(view);
    return view;
  };

  if (character.error) return <ErrorSummary shown={character.error} />;
  if (!character.data || checking) return <Loading />;
  const c = character.data;
  if (c.level >= 20)
    return (
      <div>
        <h1>Level up {c.name}</h1>
        <p>{c.name} is level 20: there is no higher level.</p>
      </div>
    );

  return (
    <div className="level-up">
      <h1>
        Level up {c.name} <span className="muted">(level {c.level} → {c.level + 1})</span>
      </h1>
      <ErrorSummary shown={shown} handled={(f) => f === "class" || f === "hit_points" || f === "method" || f === "subclass" || f.startsWith("increases") || f === "feat" || f.startsWith("choices.") || f.startsWith("spells") || ["cantrips", "prepared", "arcanum"].some((k) => f.startsWith(k))} />
      {!session ? (
        <StartForm character={c} classes={classes.data ?? []} errors={forField("class")} busy={busy} onStart={async (klass) => {
          setBusy(true);
          const view = await run(() => call<LevelUp>(`/api/characters/${id}/level-ups`, { method: "POST", body: { class: klass } }));
          setBusy(false);
          if (view) setSession(view);
        }} />
      ) : (
        <SessionView
          key={session.id}
          session={session}
          character={c}
          busy={busy}
          errors={shown?.fields ?? {}}
          step={step}
          onCommit={async () => {
            // commit answers with the character (its sheet recomputed), not the level-up view
            setBusy(true);
            const levelled = await run(() => call<Character>(`${base}/commit`, { method: "POST" }));
            setBusy(false);
            if (levelled) navigate(`/characters/${id}`);
          }}
          onAbandon={async () => {
            setBusy(true);
            const done = await run(async () => {
              await call(base, { method: "DELETE" });
              return true;
            });
            setBusy(false);
            if (done) setSession(null);
          }}
        />
      )}
      <p>
        <Link to={`/characters/${id}`}>Back to the sheet</Link>
      </p>
    </div>
  );
}

function StartForm({ character, classes, errors, busy, onStart }: { character: Character; classes: SrdClass[]; errors: string[]; busy: boolean; onStart: (klass: string) => void }) {
  const uid = useId();
  const own = character.sheet.classes.map((k) => k.index);
  const [klass, setKlass] = useState(own[0] ?? "");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (klass) onStart(klass);
  };
  return (
    <form onSubmit={submit} className="card">
      <h2 data-focus-target tabIndex={-1}>Choose the class to gain a level in</h2>
      <div className="field">
        <label htmlFor={`${uid}-class`}>Class</label>
        <select id={`${uid}-class`} value={klass} onChange={(e) => setKlass(e.target.value)} aria-invalid={errors.length ? true : undefined} aria-describedby={errors.length ? `${uid}-error` : `${uid}-hint`}>
          <optgroup label="Your classes">
            {character.sheet.classes.map((k) => (
              <option key={k.index} value={k.index}>
                {k.name} (now level {k.level})
              </option>
            ))}
          </optgroup>
          <optgroup label="Multiclass into">
            {classes
              .filter((k) => !own.includes(k.index))
              .map((k) => (
                <option key={k.index} value={k.index}>
                  {k.name}
                </option>
              ))}
          </optgroup>
        </select>
        <p id={`${uid}-hint`} className="hint">
          A new class needs the SRD's multiclassing ability scores, in it and in every class you have.
        </p>
        <FieldMessage id={`${uid}-error`} messages={errors} />
      </div>
      <button type="submit" className="button primary" disabled={busy || !klass}>
        Start levelling up
      </button>
    </form>
  );
}

function SessionView({
  session,
  character,
  busy,
  errors,
  step,
  onCommit,
  onAbandon,
}: {
  session: LevelUp;
  character: Character;
  busy: boolean;
  errors: Record<string, string[]>;
  step: (path: string, body?: unknown, method?: string) => Promise<LevelUp | undefined>;
  onCommit: () => void;
  onAbandon: () => void;
}) {
  const uid = useId();
  const hp = session.hit_points;
  const fieldErrors = (...names: string[]) => Object.entries(errors).filter(([f]) => names.some((n) => f === n || f.startsWith(`${n}.`))).flatMap(([, r]) => r);
  const missing = (field: string) => session.missing.filter((m) => m.field === field || m.field.startsWith(`${field}.`));
  const before = character.sheet;
  const after = session.preview;

  return (
    <div className="level-up-session">
      <p className="lead">
        Gaining {titleCase(session.class)} level {session.class_level} (character level {session.to_level}).
      </p>

      <section className="card">
        <h2 data-focus-target tabIndex={-1}>Hit points</h2>
        <fieldset aria-describedby={fieldErrors("hit_points", "method").length ? `${uid}-hp-error` : undefined}>
          <legend>
            Hit die d{hp.hit_die}, Constitution modifier {signed(hp.constitution_modifier)}
          </legend>
          <label className="option">
            <input type="radio" name="hp" checked={hp.method === "average"} disabled={busy || hp.method === "rolled"} onChange={() => step("/hit-points", { method: "average" })} />
            <span>
              The fixed average: {hp.average} {signed(hp.constitution_modifier)} = <strong>{Math.max(1, hp.average + hp.constitution_modifier)}</strong>
            </span>
          </label>
          <label className="option">
            <input
              type="radio"
              name="hp"
              checked={hp.method === "rolled"}
              disabled={busy || hp.method === "rolled"}
              onChange={() => {
                if (window.confirm("Roll the hit die on the server? The roll stands, you cannot change it afterwards.")) void step("/hit-points", { method: "rolled" });
              }}
            />
            <span>Roll a d{hp.hit_die} (the roll stands)</span>
          </label>
          {hp.method === "rolled" && hp.roll !== null && (
            <p className="roll" role="status">
              The server rolled <span className="die">{hp.roll}</span> {signed(hp.constitution_modifier)}: <strong>{Math.max(1, hp.roll + hp.constitution_modifier)}</strong> hit points.
            </p>
          )}
          <FieldMessage id={`${uid}-hp-error`} messages={[...fieldErrors("hit_points", "method"), ...missing("hit_points").map((m) => m.reason)]} />
        </fieldset>
      </section>

      {session.subclass_options.length > 0 && (
        <section className="card">
          <h2>Subclass</h2>
          <div className="field">
            <label htmlFor={`${uid}-subclass`}>{titleCase(session.class)} subclass</label>
            <select id={`${uid}-subclass`} value={session.chosen.subclass ?? ""} disabled={busy} onChange={(e) => e.target.value && step("/subclass", { subclass: e.target.value })} aria-describedby={`${uid}-subclass-error`}>
              <option value="">Choose…</option>
              {session.subclass_options.map((s) => (
                <option key={s} value={s}>
                  {titleCase(s)}
                </option>
              ))}
            </select>
            <FieldMessage id={`${uid}-subclass-error`} messages={[...fieldErrors("subclass"), ...missing("subclass").map((m) => m.reason)]} />
          </div>
        </section>
      )}

      {session.ability_score_improvement.available && (
        <Improvement session={session} current={character.sheet.abilities} busy={busy} errors={[...fieldErrors("increases", "feat", "ability_scores"), ...missing("ability_scores").map((m) => m.reason)]} step={step} />
      )}

      {session.choices.length > 0 && (
        <section className="card">
          <h2>Choices of this level</h2>
          <ChoiceList
            choices={session.choices}
            errors={{
              ...Object.fromEntries(session.missing.filter((m) => m.field.startsWith("choices.")).map((m) => [m.field, [m.reason]])),
              ...Object.fromEntries(Object.entries(errors).filter(([f]) => f.startsWith("choices."))),
            }}
            onAnswer={async (id, keys) => {
              await step("/choices", { selections: { [id]: keys } });
            }}
            disabled={busy}
          />
        </section>
      )}

      {session.spell_plan && (session.spell_plan.new_cantrips > 0 || session.spell_plan.new_spells > 0 || session.spell_plan.arcanum_level || missing("spells").length > 0 || session.spell_plan.prepares) && (
        <LevelSpells session={session} busy={busy} errors={errors} step={step} missingReasons={missing("spells").map((m) => m.reason)} />
      )}

      <section className="card">
        <h2>Preview</h2>
        {after ? (
          <>
            <dl className="stats compare" aria-label="Before and after">
              <div>
                <dt>Hit Points</dt>
                <dd>
                  {before.hit_points.max} → <strong>{after.hit_points.max}</strong>
                </dd>
              </div>
              <div>
                <dt>Proficiency</dt>
                <dd>
                  {signed(before.proficiency_bonus)} → <strong>{signed(after.proficiency_bonus)}</strong>
                </dd>
              </div>
              <div>
                <dt>Armor Class</dt>
                <dd>
                  {before.armor_class.value} → <strong>{after.armor_class.value}</strong>
                </dd>
              </div>
              <div>
                <dt>Hit dice</dt>
                <dd>{after.hit_points.hit_dice}</dd>
              </div>
            </dl>
            <details>
              <summary>The whole sheet at level {session.to_level}</summary>
              <SheetView sheet={after} />
            </details>
          </>
        ) : (
          <p className="muted">No preview yet.</p>
        )}
      </section>

      {session.missing.length > 0 && (
        <div className="missing" role="status">
          <p>
            <strong>Still to do:</strong>
          </p>
          <ul>
            {session.missing.map((m) => (
              <li key={m.field}>
                {m.field}: {m.reason}
              </li>
            ))}
          </ul>
        </div>
      )}
      <div className="step-buttons">
        <button type="button" className="button danger" disabled={busy} onClick={onAbandon}>
          Abandon this level-up
        </button>
        <button type="button" className="button primary big" disabled={busy || !session.complete} onClick={onCommit}>
          Gain level {session.to_level}
        </button>
      </div>
    </div>
  );
}

function Improvement({ session, current, busy, errors, step }: { session: LevelUp; current: Character["sheet"]["abilities"]; busy: boolean; errors: string[]; step: (path: string, body?: unknown) => Promise<LevelUp | undefined> }) {
  const uid = useId();
  const chosen = session.chosen;
  const [mode, setMode] = useState<"two" | "split" | "feat">(chosen.feat ? "feat" : chosen.increases && Object.keys(chosen.increases).length === 2 ? "split" : "two");
  const [first, setFirst] = useState<Ability | "">((Object.keys(chosen.increases ?? {})[0] as Ability) ?? "");
  const [second, setSecond] = useState<Ability | "">((Object.keys(chosen.increases ?? {})[1] as Ability) ?? "");
  const [feat, setFeat] = useState(chosen.feat ?? "");
  const scores = current; // before this level's increase
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (mode === "feat") void step("/ability-scores", { feat });
    else if (mode === "two" && first) void step("/ability-scores", { increases: { [first]: 2 } });
    else if (mode === "split" && first && second) void step("/ability-scores", { increases: { [first]: 1, [second]: 1 } });
  };
  const abilityOptions = (taken?: Ability | "") => (
    <>
      <option value="">Choose…</option>
      {ABILITIES.map((a) => (
        <option key={a} value={a} disabled={a === taken}>
          {ABILITY_NAMES[a]}
          {scores ? ` (${scores[a].score})` : ""}
        </option>
      ))}
    </>
  );
  return (
    <section className="card">
      <h2>Ability Score Improvement or feat</h2>
      <form onSubmit={submit}>
        <fieldset className="segmented">
          <legend>What do you take?</legend>
          <label className={`segment ${mode === "two" ? "checked" : ""}`}>
            <input type="radio" name="asi" checked={mode === "two"} onChange={() => setMode("two")} /> <span>+2 to one ability</span>
          </label>
          <label className={`segment ${mode === "split" ? "checked" : ""}`}>
            <input type="radio" name="asi" checked={mode === "split"} onChange={() => setMode("split")} /> <span>+1 to two abilities</span>
          </label>
          {session.ability_score_improvement.feats.length > 0 && (
            <label className={`segment ${mode === "feat" ? "checked" : ""}`}>
              <input type="radio" name="asi" checked={mode === "feat"} onChange={() => setMode("feat")} /> <span>A feat</span>
            </label>
          )}
        </fieldset>
        {mode !== "feat" && (
          <div className="field">
            <label htmlFor={`${uid}-first`}>{mode === "two" ? "Ability (+2)" : "First ability (+1)"}</label>
            <select id={`${uid}-first`} value={first} onChange={(e) => setFirst(e.target.value as Ability)} aria-describedby={`${uid}-error`}>
              {abilityOptions(mode === "split" ? second : "")}
            </select>
          </div>
        )}
        {mode === "split" && (
          <div className="field">
            <label htmlFor={`${uid}-second`}>Second ability (+1)</label>
            <select id={`${uid}-second`} value={second} onChange={(e) => setSecond(e.target.value as Ability)} aria-describedby={`${uid}-error`}>
              {abilityOptions(first)}
            </select>
          </div>
        )}
        {mode === "feat" && (
          <div className="field">
            <label htmlFor={`${uid}-feat`}>Feat</label>
            <select id={`${uid}-feat`} value={feat} onChange={(e) => setFeat(e.target.value)} aria-describedby={`${uid}-error`}>
              <option value="">Choose…</option>
              {session.ability_score_improvement.feats.map((f) => (
                <option key={f} value={f}>
                  {titleCase(f)}
                </option>
              ))}
            </select>
          </div>
        )}
        <FieldMessage id={`${uid}-error`} messages={errors} />
        <p className="hint">Scores never go above 20.</p>
        <button type="submit" className="button" disabled={busy}>
          Apply
        </button>
        {(chosen.feat || chosen.increases) && (
          <span className="saved">
            {" "}
            Chosen: {chosen.feat ? titleCase(chosen.feat) : Object.entries(chosen.increases ?? {}).map(([a, n]) => `${a.toUpperCase()} +${n}`).join(", ")}
          </span>
        )}
      </form>
    </section>
  );
}

function LevelSpells({ session, busy, errors, step, missingReasons }: { session: LevelUp; busy: boolean; errors: Record<string, string[]>; step: (path: string, body?: unknown) => Promise<LevelUp | undefined>; missingReasons: string[] }) {
  const plan = session.spell_plan!;
  const anyClass = plan.any_class > 0;
  const spells = useLoad(async () => {
    if (!anyClass) return srd.classSpells(session.class);
    const all = await Promise.all((await srd.classes()).filter((k) => k.spellcasting_ability).map((k) => srd.classSpells(k.index)));
    const seen = new Map<string, Spell>();
    for (const list of all) for (const s of list) seen.set(s.index, s);
    return [...seen.values()].sort((a, b) => a.level - b.level || a.name.localeCompare(b.name));
  }, [session.class, anyClass]);
  const casting = session.preview?.spellcasting?.classes.find((c) => c.class === session.class);
  const before = new Set([...(casting?.cantrips ?? []), ...(casting?.spells_known ?? [])]);
  const chosen = session.chosen.spells;
  const [cantrips, setCantrips] = useState<string[]>(chosen.cantrips ?? []);
  const [newSpells, setNewSpells] = useState<string[]>(chosen.spells ?? []);
  const [prepared, setPrepared] = useState<string[]>(chosen.prepared ?? casting?.prepared ?? []);
  const [arcanum, setArcanum] = useState<string[]>(chosen.arcanum ?? []);
  if (!spells.data) return <Loading label="Loading spells…" />;
  const already = (s: Spell) => before.has(s.index) && !cantrips.includes(s.index) && !newSpells.includes(s.index);
  const option = (s: Spell) => ({ key: s.index, label: s.name, hint: `level ${s.level || "cantrip"}, ${s.school.name}` });
  const always = new Set(casting?.always_prepared ?? []);
  const known = [...(casting?.spells_known ?? []).filter((k) => !(chosen.spells ?? []).includes(k)), ...newSpells];
  const preparedPool = (known.length ? spells.data.filter((s) => known.includes(s.index)) : spells.data.filter((s) => s.level >= 1 && s.level <= plan.max_level)).filter((s) => !always.has(s.index) && s.level >= 1);
  const err = (...names: string[]) => Object.entries(errors).filter(([f]) => names.some((n) => f === n || f.startsWith(`${n}.`))).flatMap(([, r]) => r);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const body: Record<string, string[]> = { cantrips, spells: newSpells };
    if (plan.prepares) body.prepared = prepared.filter((p) => preparedPool.some((s) => s.index === p));
    if (plan.arcanum_level) body.arcanum = arcanum;
    void step("/spells", body);
  };
  return (
    <section className="card">
      <h2>Spells</h2>
      <form onSubmit={submit}>
        <FieldMessage id="levelup-spells-missing" messages={[...missingReasons, ...err("spells")]} />
        {plan.new_cantrips > 0 && (
          <CappedChecks legend={`New cantrips: choose ${plan.new_cantrips}`} options={spells.data.filter((s) => s.level === 0 && !already(s)).map(option)} selected={cantrips} max={plan.new_cantrips} exact onChange={setCantrips} errors={err("spells.cantrips", "cantrips")} />
        )}
        {plan.new_spells > 0 && (
          <CappedChecks
            legend={`New spells: choose ${plan.new_spells}${anyClass ? ` (${plan.any_class} may come from any class)` : ""}`}
            options={spells.data.filter((s) => s.level >= 1 && s.level <= plan.max_level && !already(s)).map(option)}
            selected={newSpells}
            max={plan.new_spells}
            exact
            onChange={setNewSpells}
            errors={err("spells.spells", "spells.known")}
          />
        )}
        {plan.arcanum_level && (
          <CappedChecks legend={`Mystic Arcanum: one level-${plan.arcanum_level} spell`} options={spells.data.filter((s) => s.level === plan.arcanum_level).map(option)} selected={arcanum} max={1} exact onChange={setArcanum} errors={err("spells.arcanum", "arcanum")} />
        )}
        {plan.prepares && plan.max_prepared !== null && (
          <CappedChecks legend={`Prepared spells: up to ${plan.max_prepared}`} options={preparedPool.map(option)} selected={prepared.filter((p) => preparedPool.some((s) => s.index === p))} max={plan.max_prepared} onChange={setPrepared} errors={err("spells.prepared", "prepared")} />
        )}
        <button type="submit" className="button" disabled={busy}>
          Save spells
        </button>
      </form>
    </section>
  );
}
