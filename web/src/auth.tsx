// The signed-in account: the bearer token lives in localStorage (with its expiry) so a reload
// keeps the player signed in; a 401 from any authenticated call signs out.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import {
  api,
  loadSession,
  saveSession,
  setUnauthorizedHandler,
  type RequestOptions,
  type Session,
} from "./api/client";
import type { Account, LoginAnswer } from "./api/types";

interface AuthState {
  session: Session | null;
  signIn: (email: string, password: string) => Promise<void>;
  signUp: (email: string, password: string) => Promise<void>;
  signOut: () => Promise<void>;
  /** An authenticated api call (the token added). */
  call: <T>(path: string, options?: RequestOptions) => Promise<T>;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(() => loadSession());

  const update = useCallback((next: Session | null) => {
    saveSession(next);
    setSession(next);
  }, []);

  useEffect(() => {
    setUnauthorizedHandler(() => update(null));
    return () => setUnauthorizedHandler(null);
  }, [update]);

  const signIn = useCallback(
    async (email: string, password: string) => {
      const answer = await api<LoginAnswer>("/api/auth/login", {
        method: "POST",
        body: { email, password },
      });
      update({ token: answer.access_token, expiresAt: answer.expires_at, email: email.trim().toLowerCase() });
    },
    [update],
  );

  const signUp = useCallback(
    async (email: string, password: string) => {
      await api<Account>("/api/auth/register", { method: "POST", body: { email, password } });
      await signIn(email, password);
    },
    [signIn],
  );

  const signOut = useCallback(async () => {
    const token = session?.token;
    update(null);
    if (token) {
      try {
        await api("/api/auth/logout", { method: "POST", token });
      } catch {
        /* the token is forgotten here either way */
      }
    }
  }, [session, update]);

  const call = useCallback(
    <T,>(path: string, options: RequestOptions = {}) => api<T>(path, { ...options, token: session?.token }),
    [session],
  );

  const value = useMemo(() => ({ session, signIn, signUp, signOut, call }), [session, signIn, signUp, signOut, call]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error("useAuth outside AuthProvider");
  return state;
}
