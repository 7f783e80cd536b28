// Routes, the page frame (header, navigation, skip link) and per-route effects: a page view
// for real-user monitoring and focus moved to the new page's heading.
import { useEffect, useRef, type ReactNode } from "react";
import { Link, Navigate, NavLink, Route, Routes, useLocation, useNavigate } from "react-router-dom";
import { useAuth } from "./auth";
import { pageNameFor } from "./pages";
import { rum } from "./rum";
import { AssistantPage } from "./pages/Assistant";
import { CharacterPage } from "./pages/Character";
import { CharactersPage } from "./pages/Characters";
import { ExportPage } from "./pages/Export";
import { HomePage } from "./pages/Home";
import { ImportPage } from "./pages/Import";
import { LevelUpPage } from "./pages/LevelUp";
import { NotFoundPage } from "./pages/NotFound";
import { RuleEntryPage } from "./pages/RuleEntry";
import { RulesSearchPage } from "./pages/RulesSearch";
import { SignInPage, SignUpPage } from "./pages/SignIn";
import { WizardPage, WizardResume } from "./pages/Wizard";

function RequireAuth({ children }: { children: ReactNode }) {
  const { session } = useAuth();
  const location = useLocation();
  if (!session) {
    const next = encodeURIComponent(location.pathname + location.search);
    return <Navigate to={`/sign-in?next=${next}`} replace />;
  }
  return <>{children}</>;
}

/** On each new path: one page view, and focus on the page's focus target or heading. */
function RouteEffects() {
  const { pathname } = useLocation();
  const { session } = useAuth();
  const first = useRef(true);
  const reported = useRef<string | null>(null);
  useEffect(() => {
    if (reported.current === pathname) return; // StrictMode runs effects twice in development
    reported.current = pathname;
    rum.pageView(pageNameFor(pathname), !!session);
    if (first.current) {
      first.current = false;
      return;
    }
    // The page may still be loading: focus its heading as soon as it appears (within 3 s).
    const main = document.getElementById("main");
    const tryFocus = (): boolean => {
      const target =
        document.querySelector<HTMLElement>("main [data-focus-target]") ?? document.querySelector<HTMLElement>("main h1");
      if (!target) return false;
      if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
      target.focus();
      return true;
    };
    if (!main) return;
    let observer: MutationObserver | null = null;
    const frame = requestAnimationFrame(() => {
      if (tryFocus()) return;
      observer = new MutationObserver(() => {
        if (tryFocus()) observer?.disconnect();
      });
      observer.observe(main, { childList: true, subtree: true });
    });
    const giveUp = setTimeout(() => observer?.disconnect(), 3000);
    return () => {
      cancelAnimationFrame(frame);
      clearTimeout(giveUp);
      observer?.disconnect();
    };
    // a page view per path, not per sign-in
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [pathname]);
  return null;
}

function Header() {
  const { session, signOut } = useAuth();
  const navigate = useNavigate();
  return (
    <header className="site-header">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <div className="header-inner">
        <Link to="/" className="brand">
          <span className="brand-mark" aria-hidden="true">
            ⚒
          </span>
          The Hero Foundry
        </Link>
        <nav aria-label="Main">
          <ul>
            {session && (
              <li>
                <NavLink to="/characters">My characters</NavLink>
              </li>
            )}
            <li>
              <NavLink to="/rules">Rules</NavLink>
            </li>
            {session && (
              <li>
                <NavLink to="/assistant">Assistant</NavLink>
              </li>
            )}
            {session ? (
              <li>
                <button
                  type="button"
                  className="link-button"
                  onClick={async () => {
                    await signOut();
                    navigate("/sign-in");
                  }}
                >
                  Sign out<span className="visually-hidden"> {session.email}</span>
                </button>
              </li>
            ) : (
              <>
                <li>
                  <NavLink to="/sign-in">Sign in</NavLink>
                </li>
                <li>
                  <NavLink to="/sign-up">Sign up</NavLink>
                </li>
              </>
            )}
          </ul>
        </nav>
      </div>
    </header>
  );
}

export function App() {
  return (
    <>
      <RouteEffects />
      <Header />
      <main id="main" tabIndex={-1}>
        <Routes>
          <Route path="/" element={<HomePage />} />
          <Route path="/sign-in" element={<SignInPage />} />
          <Route path="/sign-up" element={<SignUpPage />} />
          <Route path="/rules" element={<RulesSearchPage />} />
          <Route path="/rules/:kind/:index" element={<RuleEntryPage />} />
          <Route path="/characters" element={<RequireAuth><CharactersPage /></RequireAuth>} />
          <Route path="/characters/:id" element={<RequireAuth><CharacterPage /></RequireAuth>} />
          <Route path="/characters/:id/level-up" element={<RequireAuth><LevelUpPage /></RequireAuth>} />
          <Route path="/characters/:id/export" element={<RequireAuth><ExportPage /></RequireAuth>} />
          <Route path="/create/:draftId" element={<RequireAuth><WizardResume /></RequireAuth>} />
          <Route path="/create/:draftId/:step" element={<RequireAuth><WizardPage /></RequireAuth>} />
          <Route path="/import" element={<RequireAuth><ImportPage /></RequireAuth>} />
          <Route path="/assistant" element={<RequireAuth><AssistantPage /></RequireAuth>} />
          <Route path="*" element={<NotFoundPage />} />
        </Routes>
      </main>
      <footer className="site-footer">
        <p>
          Game content from the System Reference Document 5.1 by Wizards of the Coast LLC, licensed under{" "}
          <a href="https://creativecommons.org/licenses/by/4.0/legalcode">CC BY 4.0</a>.
        </p>
      </footer>
    </>
  );
}
