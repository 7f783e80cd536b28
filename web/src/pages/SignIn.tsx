import { useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { useAuth } from "../auth";
import { ErrorSummary, FieldMessage, useProblem, useTitle } from "../components/common";

function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/characters";
}

function AuthForm({ mode }: { mode: "sign-in" | "sign-up" }) {
  const signingUp = mode === "sign-up";
  useTitle(signingUp ? "Sign up" : "Sign in");
  const { signIn, signUp } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const { shown, run, forField } = useProblem();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    const done = await run(async () => {
      if (signingUp) await signUp(email, password);
      else await signIn(email, password);
      return true;
    });
    setBusy(false);
    if (done) navigate(safeNext(params.get("next")), { replace: true });
  };

  const emailErrors = forField("email");
  const passwordErrors = forField("password");
  return (
    <div className="narrow">
      <h1>{signingUp ? "Create your account" : "Welcome back"}</h1>
      <ErrorSummary shown={shown} handled={(f) => f === "email" || f === "password"} />
      <form onSubmit={submit} noValidate className="form">
        <div className="field">
          <label htmlFor="email">E-mail address</label>
          <input
            id="email"
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            aria-invalid={emailErrors.length ? true : undefined}
            aria-describedby={emailErrors.length ? "email-error" : undefined}
          />
          <FieldMessage id="email-error" messages={emailErrors} />
        </div>
        <div className="field">
          <label htmlFor="password">Password</label>
          <input
            id="password"
            type="password"
            autoComplete={signingUp ? "new-password" : "current-password"}
            required
            minLength={8}
            maxLength={128}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            aria-invalid={passwordErrors.length ? true : undefined}
            aria-describedby={["password-hint", passwordErrors.length ? "password-error" : ""].join(" ").trim()}
          />
          <p id="password-hint" className="hint">
            8 to 128 characters{signingUp ? "; a few words make a good one" : ""}.
          </p>
          <FieldMessage id="password-error" messages={passwordErrors} />
        </div>
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? "Please wait…" : signingUp ? "Sign up" : "Sign in"}
        </button>
      </form>
      <p>
        {signingUp ? (
          <>
            Already have an account? <Link to="/sign-in">Sign in</Link>
          </>
        ) : (
          <>
            New here? <Link to="/sign-up">Create an account</Link>
          </>
        )}
      </p>
    </div>
  );
}

export const SignInPage = () => <AuthForm mode="sign-in" />;
export const SignUpPage = () => <AuthForm mode="sign-up" />;
