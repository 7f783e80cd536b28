// The derived sheet, every number the api returns: abilities and modifiers, AC, hit points,
// speed, initiative, proficiency bonus, saving throws, skills, passive Perception,
// spellcasting (slots, save DC, attack bonus, spells), features, languages, proficiencies.
import { Link } from "react-router-dom";
import { ABILITIES, ABILITY_NAMES, type Sheet } from "../api/types";
import { signed, titleCase } from "./common";

function SpellLinks({ spells }: { spells: string[] }) {
  if (!spells.length) return <span className="muted">none</span>;
  return (
    <>
      {spells.map((spell, i) => (
        <span key={spell}>
          {i > 0 && ", "}
          <Link to={`/rules/spell/${spell}`}>{titleCase(spell)}</Link>
        </span>
      ))}
    </>
  );
}

export function SheetView({ sheet, compact = false }: { sheet: Sheet; compact?: boolean }) {
  const classes = sheet.classes.map((c) => `${c.name} ${c.level}${c.subclass ? ` (${titleCase(c.subclass)})` : ""}`).join(" / ");
  const casting = sheet.spellcasting;
  return (
    <div className={`sheet ${compact ? "sheet-compact" : ""}`}>
      <p className="sheet-identity">
        Level {sheet.level} {sheet.subrace?.name ?? sheet.race?.name ?? ""} {classes}
        {sheet.background ? ` · ${titleCase(sheet.background)}` : ""}
      </p>
      <section aria-label="Ability scores" className="abilities">
        {ABILITIES.map((a) => {
          const score = sheet.abilities[a];
          const parts = [`base ${score.base}`];
          if (score.racial_bonus) parts.push(`racial ${signed(score.racial_bonus)}`);
          if (score.improvements) parts.push(`improvements ${signed(score.improvements)}`);
          return (
            <div key={a} className="ability" title={parts.join(", ")}>
              <span className="ability-name" aria-hidden="true">
                {a.toUpperCase()}
              </span>
              <span className="visually-hidden">{ABILITY_NAMES[a]}</span>
              <span className="ability-mod">{signed(score.modifier)}</span>
              <span className="ability-score">
                <span className="visually-hidden">score </span>
                {score.score}
              </span>
              <span className="ability-parts">{parts.join(", ")}</span>
            </div>
          );
        })}
      </section>
      <dl className="stats" aria-label="Combat numbers">
        <div>
          <dt>Armor Class</dt>
          <dd>
            {sheet.armor_class.value}
            <small>{sheet.armor_class.source}</small>
          </dd>
        </div>
        <div>
          <dt>Hit Points</dt>
          <dd>
            {sheet.hit_points.max}
            <small>Hit dice {sheet.hit_points.hit_dice}</small>
          </dd>
        </div>
        <div>
          <dt>Speed</dt>
          <dd>{sheet.speed} ft</dd>
        </div>
        <div>
          <dt>Initiative</dt>
          <dd>{signed(sheet.initiative)}</dd>
        </div>
        <div>
          <dt>Proficiency</dt>
          <dd>{signed(sheet.proficiency_bonus)}</dd>
        </div>
        <div>
          <dt>Passive Perception</dt>
          <dd>{sheet.passive_perception}</dd>
        </div>
      </dl>
      {sheet.armor_class.notes.length > 0 && (
        <ul className="notes">
          {sheet.armor_class.notes.map((note) => (
            <li key={note}>{note}</li>
          ))}
        </ul>
      )}
      {!compact && (
        <div className="sheet-columns">
          <section>
            <h3>Saving throws</h3>
            <ul className="plain bonus-list">
              {ABILITIES.map((a) => {
                const save = sheet.saving_throws[a];
                return (
                  <li key={a} className={save.proficient ? "proficient" : ""}>
                    <span className="dot" aria-hidden="true">{save.proficient ? "●" : "○"}</span>
                    <span className="bonus">{signed(save.bonus)}</span> {ABILITY_NAMES[a]}
                    {save.proficient && <span className="visually-hidden"> (proficient)</span>}
                  </li>
                );
              })}
            </ul>
          </section>
          <section className="skills">
            <h3>Skills</h3>
            <ul className="plain bonus-list">
              {Object.entries(sheet.skills).map(([key, skill]) => (
                <li key={key} className={skill.proficient ? "proficient" : ""}>
                  <span className="dot" aria-hidden="true">{skill.expertise ? "◆" : skill.proficient ? "●" : "○"}</span>
                  <span className="bonus">{signed(skill.bonus)}</span> {skill.name}{" "}
                  <small className="muted">({skill.ability.toUpperCase()})</small>
                  {skill.expertise ? (
                    <span className="visually-hidden"> (expertise)</span>
                  ) : (
                    skill.proficient && <span className="visually-hidden"> (proficient)</span>
                  )}
                </li>
              ))}
            </ul>
          </section>
        </div>
      )}
      {casting && casting.classes.length > 0 && (
        <section className="spellcasting">
          <h3>Spellcasting</h3>
          {Object.keys(casting.slots).length > 0 && (
            <p>
              <strong>Spell slots:</strong>{" "}
              {Object.entries(casting.slots)
                .map(([level, count]) => `level ${level}: ${count}`)
                .join(", ")}
            </p>
          )}
          {casting.pact_magic && (
            <p>
              <strong>Pact Magic:</strong> {JSON.stringify(casting.pact_magic).replace(/[{}"]/g, "").replace(/,/g, ", ")}
            </p>
          )}
          {casting.classes.map((c) => (
            <div key={c.class} className="casting-class">
              <p>
                <strong>{titleCase(c.class)}</strong> ({ABILITY_NAMES[c.ability]}): spell save DC <strong>{c.save_dc}</strong>, spell
                attack <strong>{signed(c.attack_bonus)}</strong>
                {c.max_prepared !== null && c.max_prepared !== undefined && <>, prepares up to {c.max_prepared}</>}
              </p>
              {!compact && (
                <dl className="spell-lists">
                  <dt>Cantrips</dt>
                  <dd>
                    <SpellLinks spells={c.cantrips} />
                  </dd>
                  {c.spells_known.length > 0 && (
                    <>
                      <dt>Spells known</dt>
                      <dd>
                        <SpellLinks spells={c.spells_known} />
                      </dd>
                    </>
                  )}
                  {(c.prepared.length > 0 || c.max_prepared) && (
                    <>
                      <dt>Prepared</dt>
                      <dd>
                        <SpellLinks spells={c.prepared} />
                      </dd>
                    </>
                  )}
                  {c.always_prepared.length > 0 && (
                    <>
                      <dt>Always prepared</dt>
                      <dd>
                        <SpellLinks spells={c.always_prepared} />
                      </dd>
                    </>
                  )}
                  {c.mystic_arcanum && c.mystic_arcanum.length > 0 && (
                    <>
                      <dt>Mystic Arcanum</dt>
                      <dd>
                        <SpellLinks spells={c.mystic_arcanum} />
                      </dd>
                    </>
                  )}
                </dl>
              )}
            </div>
          ))}
        </section>
      )}
      {!compact && (
        <>
          <section>
            <h3>Languages</h3>
            <p>{sheet.languages.map((l) => l.name).join(", ") || <span className="muted">none</span>}</p>
          </section>
          <section>
            <h3>Proficiencies</h3>
            <dl className="proficiencies">
              {Object.entries(sheet.proficiencies).map(([group, items]) => (
                <div key={group}>
                  <dt>{group}</dt>
                  <dd>{items.map((p) => p.name).join(", ")}</dd>
                </div>
              ))}
            </dl>
          </section>
          <section>
            <h3>Features and traits</h3>
            <ul className="features">
              {sheet.features.map((feature, i) => (
                <li key={`${feature.index}-${i}`}>
                  <details>
                    <summary>
                      {feature.name}
                      <small className="muted">
                        {" "}
                        {feature.source ?? ""}
                        {feature.level ? ` · level ${feature.level}` : ""}
                      </small>
                    </summary>
                    {(feature.desc ?? []).map((p, j) => (
                      <p key={j}>{p}</p>
                    ))}
                    {(feature.source === "class" || feature.source === "race") && (
                      <p>
                        <Link to={`/rules/${feature.source === "race" ? "trait" : "feature"}/${feature.index}`}>
                          Rule entry for {feature.name}
                        </Link>
                      </p>
                    )}
                  </details>
                </li>
              ))}
            </ul>
            {sheet.feats && sheet.feats.length > 0 && (
              <p>
                <strong>Feats:</strong> {sheet.feats.map((f) => (typeof f === "string" ? titleCase(f) : f.name)).join(", ")}
              </p>
            )}
          </section>
        </>
      )}
    </div>
  );
}
