// The character: its sheet (every derived number), editing (name, notes, personality,
// inventory, money), and the ways out (level up, export, delete).
import { useEffect, useId, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import type { Alignment, Character, Currency, EquipmentItem } from "../api/types";
import { useAuth } from "../auth";
import { ErrorSummary, FieldMessage, Loading, toShown, useLoad, useProblem, useTitle, type Shown } from "../components/common";
import { SheetView } from "../components/SheetView";
import { srd } from "../srd";

const COINS: (keyof Currency)[] = ["cp", "sp", "ep", "gp", "pp"];
const COIN_NAMES: Record<keyof Currency, string> = { cp: "Copper", sp: "Silver", ep: "Electrum", gp: "Gold", pp: "Platinum" };
const PERSONALITY = [
  ["personality_traits", "Personality traits"],
  ["ideals", "Ideals"],
  ["bonds", "Bonds"],
  ["flaws", "Flaws"],
] as const;

export function CharacterPage() {
  const { id = "" } = useParams();
  const { call } = useAuth();
  const navigate = useNavigate();
  const loaded = useLoad((signal) => call<Character>(`/api/characters/${id}`, { signal }), [id]);
  const character = loaded.data;
  useTitle(character?.name ?? "Character");
  const { shown, run } = useProblem();

  if (loaded.error) {
    return (
      <div>
        <h1>Character</h1>
        <ErrorSummary shown={loaded.error} />
        <Link to="/characters">Back to my characters</Link>
      </div>
    );
  }
  if (!character) return <Loading label="Loading the character…" />;

  const patch = async (body: unknown): Promise<Shown | null> => {
    try {
      const updated = await call<Character>(`/api/characters/${id}`, { method: "PATCH", body });
      loaded.setData(updated);
      return null;
    } catch (error) {
      return toShown(error);
    }
  };

  return (
    <div className="character-page">
      <div className="page-head">
        <h1>{character.name}</h1>
        <div className="actions">
          <Link className="button primary" to={`/characters/${id}/level-up`}>
            Level up
          </Link>
          <Link className="button" to={`/characters/${id}/export`}>
            Export
          </Link>
          <button
            type="button"
            className="button danger"
            onClick={async () => {
              if (!window.confirm(`Delete ${character.name}? This cannot be undone.`)) return;
              const done = await run(async () => {
                await call(`/api/characters/${id}`, { method: "DELETE" });
                return true;
              });
              if (done) navigate("/characters");
            }}
          >
            Delete
          </button>
        </div>
      </div>
      <ErrorSummary shown={shown} />
      <SheetView sheet={character.sheet} />
      <div className="edit-grid">
        <DetailsEditor character={character} patch={patch} />
        <InventoryEditor character={character} patch={patch} />
        <CurrencyEditor character={character} patch={patch} />
      </div>
      <p className="attribution">{character.attribution}</p>
    </div>
  );
}

type Patch = (body: unknown) => Promise<Shown | null>;

function useSaved() {
  const [status, setStatus] = useState("");
  useEffect(() => {
    if (!status) return;
    const timer = setTimeout(() => setStatus(""), 4000);
    return () => clearTimeout(timer);
  }, [status]);
  return [status, setStatus] as const;
}

function DetailsEditor({ character, patch }: { character: Character; patch: Patch }) {
  const uid = useId();
  const alignments = useLoad(() => srd.alignments(), []);
  const [name, setName] = useState(character.name);
  const [alignment, setAlignment] = useState(character.details.alignment ?? "");
  const [notes, setNotes] = useState(character.notes ?? "");
  const [backstory, setBackstory] = useState(character.details.backstory ?? "");
  const [lists, setLists] = useState<Record<string, string>>(() =>
    Object.fromEntries(PERSONALITY.map(([key]) => [key, (character.details[key] ?? []).join("\n")])),
  );
  const [problem, setProblem] = useState<Shown | null>(null);
  const [status, setStatus] = useSaved();
  const errs = (field: string) => problem?.fields[field] ?? [];

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const body: Record<string, unknown> = { name, notes, backstory };
    if (alignment) body.alignment = alignment;
    for (const [key] of PERSONALITY) {
      body[key] = lists[key]
        .split("\n")
        .map((line) => line.trim())
        .filter(Boolean);
    }
    const failed = await patch(body);
    setProblem(failed);
    setStatus(failed ? "" : "Saved.");
  };

  return (
    <section className="card">
      <h2>Details</h2>
      <ErrorSummary shown={problem} handled={(f) => ["name", "alignment", "notes", "backstory", ...PERSONALITY.map(([k]) => k)].some((k) => f === k || f.startsWith(`${k}.`))} />
      <form onSubmit={submit} className="form">
        <div className="field">
          <label htmlFor={`${uid}-name`}>Name</label>
          <input id={`${uid}-name`} value={name} maxLength={100} required onChange={(e) => setName(e.target.value)} aria-describedby={`${uid}-name-error`} aria-invalid={errs("name").length ? true : undefined} />
          <FieldMessage id={`${uid}-name-error`} messages={errs("name")} />
        </div>
        <div className="field">
          <label htmlFor={`${uid}-alignment`}>Alignment</label>
          <select id={`${uid}-alignment`} value={alignment} onChange={(e) => setAlignment(e.target.value)}>
            <option value="">—</option>
            {(alignments.data ?? []).map((a: Alignment) => (
              <option key={a.index} value={a.index}>
                {a.name}
              </option>
            ))}
          </select>
          <FieldMessage id={`${uid}-alignment-error`} messages={errs("alignment")} />
        </div>
        {PERSONALITY.map(([key, label]) => (
          <div className="field" key={key}>
            <label htmlFor={`${uid}-${key}`}>{label}</label>
            <textarea
              id={`${uid}-${key}`}
              rows={2}
              value={lists[key]}
              onChange={(e) => setLists({ ...lists, [key]: e.target.value })}
              aria-describedby={`${uid}-${key}-hint`}
            />
            <p id={`${uid}-${key}-hint`} className="hint">
              One per line, at most 4.
            </p>
            <FieldMessage id={`${uid}-${key}-error`} messages={Object.entries(problem?.fields ?? {}).filter(([f]) => f === key || f.startsWith(`${key}.`)).flatMap(([, r]) => r)} />
          </div>
        ))}
        <div className="field">
          <label htmlFor={`${uid}-backstory`}>Backstory</label>
          <textarea id={`${uid}-backstory`} rows={4} value={backstory} onChange={(e) => setBackstory(e.target.value)} />
          <FieldMessage id={`${uid}-backstory-error`} messages={errs("backstory")} />
        </div>
        <div className="field">
          <label htmlFor={`${uid}-notes`}>Notes</label>
          <textarea id={`${uid}-notes`} rows={4} value={notes} onChange={(e) => setNotes(e.target.value)} />
          <FieldMessage id={`${uid}-notes-error`} messages={errs("notes")} />
        </div>
        <button type="submit" className="button primary">
          Save details
        </button>{" "}
        <span role="status" className="saved">
          {status}
        </span>
      </form>
    </section>
  );
}

function InventoryEditor({ character, patch }: { character: Character; patch: Patch }) {
  const uid = useId();
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<EquipmentItem[]>([]);
  const [quantity, setQuantity] = useState(1);
  const [problem, setProblem] = useState<Shown | null>(null);
  const [status, setStatus] = useSaved();

  const apply = async (body: unknown, done: string) => {
    const failed = await patch({ inventory: body });
    setProblem(failed);
    setStatus(failed ? "" : done);
  };

  const search = async (event: FormEvent) => {
    event.preventDefault();
    if (!query.trim()) return;
    const page = await srd.equipment(query.trim()).catch(() => null);
    setResults(page?.items ?? []);
    setStatus(page ? `${page.items.length} item${page.items.length === 1 ? "" : "s"} found.` : "The search failed.");
  };

  return (
    <section className="card">
      <h2>Inventory</h2>
      <ErrorSummary shown={problem} />
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Items carried</caption>
          <thead>
            <tr>
              <th scope="col">Item</th>
              <th scope="col">Qty</th>
              <th scope="col">Equipped</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {character.inventory.map((item) => (
              <tr key={item.index}>
                <td>
                  <Link to={`/rules/equipment/${item.index}`}>{item.name}</Link>
                </td>
                <td>{item.quantity}</td>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`${item.name} equipped`}
                    checked={item.equipped}
                    onChange={(e) =>
                      apply(e.target.checked ? { equip: [item.index] } : { unequip: [item.index] }, `${item.name} ${e.target.checked ? "equipped" : "unequipped"}.`)
                    }
                  />
                </td>
                <td>
                  <button type="button" className="link-button" onClick={() => apply({ remove: [{ index: item.index, quantity: 1 }] }, `One ${item.name} removed.`)}>
                    Remove one<span className="visually-hidden"> {item.name}</span>
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form onSubmit={search} className="form inline-form" role="search" aria-label="Find equipment to add">
        <div className="field">
          <label htmlFor={`${uid}-q`}>Add equipment</label>
          <input id={`${uid}-q`} type="search" placeholder="rope, longsword…" value={query} onChange={(e) => setQuery(e.target.value)} />
        </div>
        <div className="field small">
          <label htmlFor={`${uid}-qty`}>Quantity</label>
          <input id={`${uid}-qty`} type="number" min={1} max={10000} value={quantity} onChange={(e) => setQuantity(Math.max(1, Number(e.target.value) || 1))} />
        </div>
        <button type="submit" className="button">
          Find
        </button>
      </form>
      {results.length > 0 && (
        <ul className="plain results">
          {results.map((item) => (
            <li key={item.index}>
              {item.name}
              {item.cost ? <small className="muted"> ({item.cost.quantity} {item.cost.unit})</small> : null}{" "}
              <button type="button" className="link-button" onClick={() => apply({ add: [{ index: item.index, quantity }] }, `${quantity} × ${item.name} added.`)}>
                Add<span className="visually-hidden"> {item.name}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <p role="status" className="saved">
        {status}
      </p>
    </section>
  );
}

function CurrencyEditor({ character, patch }: { character: Character; patch: Patch }) {
  const uid = useId();
  const [coins, setCoins] = useState<Currency>(character.currency);
  const [problem, setProblem] = useState<Shown | null>(null);
  const [status, setStatus] = useSaved();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const failed = await patch({ currency: coins });
    setProblem(failed);
    setStatus(failed ? "" : "Money saved.");
  };
  return (
    <section className="card">
      <h2>Money</h2>
      <ErrorSummary shown={problem} handled={(f) => f.startsWith("currency.")} />
      <form onSubmit={submit} className="form coins">
        {COINS.map((coin) => (
          <div className="field small" key={coin}>
            <label htmlFor={`${uid}-${coin}`}>
              {COIN_NAMES[coin]} <abbr title={COIN_NAMES[coin]}>({coin})</abbr>
            </label>
            <input
              id={`${uid}-${coin}`}
              type="number"
              min={0}
              max={10000000}
              inputMode="numeric"
              value={coins[coin]}
              onChange={(e) => setCoins({ ...coins, [coin]: Math.max(0, Math.floor(Number(e.target.value) || 0)) })}
            />
            <FieldMessage id={`${uid}-${coin}-error`} messages={problem?.fields[`currency.${coin}`] ?? []} />
          </div>
        ))}
        <button type="submit" className="button primary">
          Save money
        </button>{" "}
        <span role="status" className="saved">
          {status}
        </span>
      </form>
    </section>
  );
}

