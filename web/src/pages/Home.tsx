import { Link } from "react-router-dom";
import { useAuth } from "../auth";
import { useTitle } from "../components/common";

export function HomePage() {
  useTitle("");
  const { session } = useAuth();
  return (
    <div className="home">
      <section className="hero">
        <h1>Forge your hero</h1>
        <p className="lead">
          Build a Dungeons &amp; Dragons 5e character step by step, with every rule of the SRD checked as you go; keep
          the sheet, level it up, look up any rule and ask the rules assistant.
        </p>
        <p className="actions">
          {session ? (
            <Link className="button primary" to="/characters">
              My characters
            </Link>
          ) : (
            <>
              <Link className="button primary" to="/sign-up">
                Create an account
              </Link>
              <Link className="button" to="/sign-in">
                Sign in
              </Link>
            </>
          )}
          <Link className="button" to="/rules">
            Search the rules
          </Link>
        </p>
      </section>
      <section className="features-grid" aria-label="What you can do">
        <div className="card">
          <h2>A guided wizard</h2>
          <p>Race, class, background, ability scores (standard array, point buy or the dice), every choice, spells and details.</p>
        </div>
        <div className="card">
          <h2>A living sheet</h2>
          <p>Every number derived for you: armour class, hit points, saves, skills, spell slots and save DCs.</p>
        </div>
        <div className="card">
          <h2>Level up to 20</h2>
          <p>Hit points, subclasses, ability score improvements, multiclassing and new spells, previewed before you commit.</p>
        </div>
      </section>
    </div>
  );
}
