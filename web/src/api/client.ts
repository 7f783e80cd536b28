// The api client: relative /api URLs (same origin), bearer token, RFC 9457 problems.
//
// Every error the api sends is an application/problem+json document: {type, title, status,
// detail, instance, errors?: [{field, reason}]}. `ApiError` carries it, so pages can show each
// reason next to the field it names (see `fieldErrors`).

export interface FieldError {
  field: string;
  reason: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string | null;
  instance?: string | null;
  errors?: FieldError[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail || problem.title || `HTTP ${problem.status}`);
    this.name = "ApiError";
    this.status = problem.status;
    this.problem = problem;
  }

  /** Field-level reasons (may be empty: then `message` says what went wrong). */
  get errors(): FieldError[] {
    return this.problem.errors ?? [];
  }
}

/** Whatever the server answered, as a Problem: a problem document, or one made from the status
 * when the body is not one (a proxy's HTML 502, an empty 500, a network failure). */
export async function parseProblem(response: Response): Promise<Problem> {
  const text = await response.text().catch(() => "");
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (body && typeof body === "object" && !Array.isArray(body)) {
    const doc = body as Record<string, unknown>;
    const errors = Array.isArray(doc.errors)
      ? doc.errors
          .filter(
            (e): e is FieldError =>
              !!e &&
              typeof e === "object" &&
              typeof (e as FieldError).field === "string" &&
              typeof (e as FieldError).reason === "string",
          )
          .map((e) => ({ field: e.field, reason: e.reason }))
      : undefined;
    if (typeof doc.title === "string" || typeof doc.detail === "string") {
      return {
        type: typeof doc.type === "string" ? doc.type : "about:blank",
        title: typeof doc.title === "string" ? doc.title : response.statusText,
        status: typeof doc.status === "number" ? doc.status : response.status,
        detail: typeof doc.detail === "string" ? doc.detail : null,
        instance: typeof doc.instance === "string" ? doc.instance : null,
        errors,
      };
    }
  }
  return {
    type: "about:blank",
    title: response.statusText || "Request failed",
    status: response.status,
    detail: statusDetail(response.status),
  };
}

function statusDetail(status: number): string {
  if (status === 401) return "Please sign in again.";
  if (status === 404) return "Not found.";
  if (status === 413) return "That is too large for the server.";
  if (status === 429) return "Too many requests; wait a moment and try again.";
  if (status >= 500) return "The server could not answer; try again in a moment.";
  return `The request failed (HTTP ${status}).`;
}

/** Errors grouped by field, for showing each next to its input. */
export function fieldErrors(errors: FieldError[] | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const { field, reason } of errors ?? []) (out[field] ??= []).push(reason);
  return out;
}

// -- the token --------------------------------------------------------------------------------
const TOKEN_KEY = "hero-foundry.session";

export interface Session {
  token: string;
  expiresAt: string;
  email: string;
}

export function loadSession(): Session | null {
  try {
    const raw = window.localStorage.getItem(TOKEN_KEY);
    if (!raw) return null;
    const session = JSON.parse(raw) as Session;
    if (!session.token || Date.parse(session.expiresAt) <= Date.now()) {
      window.localStorage.removeItem(TOKEN_KEY);
      return null;
    }
    return session;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  try {
    if (session) window.localStorage.setItem(TOKEN_KEY, JSON.stringify(session));
    else window.localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* private mode: the session lives in memory only */
  }
}

/** Called when an authenticated request answers 401 (expired or revoked token). */
let onUnauthorized: (() => void) | null = null;
export function setUnauthorizedHandler(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

// -- requests ---------------------------------------------------------------------------------
export interface RequestOptions {
  method?: string;
  body?: unknown;
  token?: string | null;
  signal?: AbortSignal;
  query?: Record<string, string | number | undefined | null>;
}

export function buildUrl(path: string, query?: RequestOptions["query"]): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

async function send(path: string, options: RequestOptions, accept: string): Promise<Response> {
  const headers: Record<string, string> = { Accept: accept };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let response: Response;
  try {
    response = await fetch(buildUrl(path, options.query), {
      method: options.method ?? "GET",
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (error) {
    if ((error as Error)?.name === "AbortError") throw error;
    throw new ApiError({
      type: "about:blank",
      title: "Network error",
      status: 0,
      detail: "The server cannot be reached; check your connection and try again.",
    });
  }
  if (!response.ok) {
    const problem = await parseProblem(response);
    if (response.status === 401 && options.token && onUnauthorized) onUnauthorized();
    throw new ApiError(problem);
  }
  return response;
}

/** A JSON request; resolves with the parsed body (`undefined` for 204). */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await send(path, options, "application/json");
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A file download (exports): the body as a Blob and the server's file name. */
export async function download(
  path: string,
  options: RequestOptions = {},
): Promise<{ blob: Blob; filename: string | null }> {
  const response = await send(path, options, "*/*");
  const blob = await response.blob();
  return { blob, filename: filenameOf(response.headers.get("Content-Disposition")) };
}

export function filenameOf(disposition: string | null): string | null {
  if (!disposition) return null;
  const star = /filename\*\s*=\s*(?:UTF-8'')?([^;]+)/i.exec(disposition);
  if (star) {
    try {
      return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ""));
    } catch {
      /* fall through to the plain name */
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(disposition);
  return plain ? plain[1].trim() : null;
}

/** Save a Blob as a file (an object URL clicked through a temporary link). */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.rel = "noopener";
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
