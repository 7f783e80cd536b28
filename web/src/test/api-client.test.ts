import { afterEach, describe, expect, it, vi } from "vitest";
import { api, ApiError, buildUrl, fieldErrors, filenameOf, loadSession, parseProblem, saveSession, setUnauthorizedHandler } from "../api/client";
import { fixtures, jsonResponse, problemResponse } from "./fixtures";

function mockFetch(...responses: (Response | Error)[]) {
  const fn = vi.fn(async () => {
    const next = responses.shift();
    if (!next) throw new Error("unexpected request");
    if (next instanceof Error) throw next;
    return next;
  });
  vi.stubGlobal("fetch", fn);
  return fn;
}

afterEach(() => {
  vi.unstubAllGlobals();
  setUnauthorizedHandler(null);
});

describe("problem parsing", () => {
  it("reads a real 422 problem document, field by field", async () => {
    const problem = await parseProblem(problemResponse(fixtures.problemChoice()));
    expect(problem.status).toBe(422);
    expect(problem.title).toBe("Invalid request");
    expect(problem.errors).toEqual([
      { field: "choices.class:proficiencies:0", reason: "skill-insight is already granted by another source" },
    ]);
    expect(fieldErrors(problem.errors)).toEqual({
      "choices.class:proficiencies:0": ["skill-insight is already granted by another source"],
    });
  });

  it("makes a problem from a body that is not one (a proxy's HTML 502)", async () => {
    const problem = await parseProblem(new Response("<html>Bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    expect(problem.status).toBe(502);
    expect(problem.errors).toBeUndefined();
    expect(problem.detail).toMatch(/could not answer/);
  });

  it("ignores malformed entries of errors[]", async () => {
    const problem = await parseProblem(
      jsonResponse({ title: "Invalid request", status: 422, errors: [{ field: "name" }, "x", { field: "name", reason: "missing" }] }, 422),
    );
    expect(problem.errors).toEqual([{ field: "name", reason: "missing" }]);
  });

  it("groups several reasons for one field", () => {
    expect(fieldErrors([{ field: "a", reason: "one" }, { field: "a", reason: "two" }, { field: "b", reason: "x" }])).toEqual({ a: ["one", "two"], b: ["x"] });
  });
});

describe("requests", () => {
  it("sends the bearer token and JSON body, and parses the answer", async () => {
    const fetch = mockFetch(jsonResponse(fixtures.draftNew(), 201));
    const draft = await api<{ id: string }>("/api/characters/drafts", { method: "POST", token: "tok123", body: { a: 1 } });
    expect(draft.id).toBe(fixtures.draftNew().id);
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/api/characters/drafts");
    const headers = init.headers as Record<string, string>;
    expect(headers.Authorization).toBe("Bearer tok123");
    expect(headers["Content-Type"]).toBe("application/json");
    expect(init.body).toBe('{"a":1}');
  });

  it("sends no Authorization header without a token, and no Content-Type without a body", async () => {
    const fetch = mockFetch(jsonResponse(fixtures.rulesSearch()));
    await api("/api/rules/search", { query: { q: "grappled", kind: "", level: undefined, limit: 5 } });
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/api/rules/search?q=grappled&limit=5");
    const headers = init.headers as Record<string, string>;
    expect(headers.Authorization).toBeUndefined();
    expect(headers["Content-Type"]).toBeUndefined();
  });

  it("throws an ApiError carrying the problem", async () => {
    mockFetch(problemResponse(fixtures.problemSpell()));
    const error = (await api("/api/characters/drafts/x/spells", { method: "PUT", body: {}, token: "t" }).catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(422);
    expect(error.errors[0]).toEqual({ field: "spells.prepared", reason: "bless is always prepared by your subclass; pick another" });
  });

  it("signs out on a 401 of an authenticated call, not on a failed login", async () => {
    const handler = vi.fn();
    setUnauthorizedHandler(handler);
    const unauthorized = { type: "about:blank", title: "Unauthorized", status: 401, detail: "Wrong e-mail address or password." };
    mockFetch(problemResponse(unauthorized), problemResponse(unauthorized));
    await expect(api("/api/auth/login", { method: "POST", body: {} })).rejects.toThrow("Wrong e-mail address or password.");
    expect(handler).not.toHaveBeenCalled();
    await expect(api("/api/me", { token: "expired" })).rejects.toBeInstanceOf(ApiError);
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it("turns a network failure into a status-0 problem", async () => {
    mockFetch(new TypeError("Failed to fetch"));
    const error = (await api("/api/srd/races").catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(0);
    expect(error.message).toMatch(/cannot be reached/);
  });

  it("answers undefined for 204", async () => {
    mockFetch(new Response(null, { status: 204 }));
    await expect(api("/api/auth/logout", { method: "POST", token: "t" })).resolves.toBeUndefined();
  });
});

describe("helpers", () => {
  it("builds query strings without empty values", () => {
    expect(buildUrl("/x", { a: "1", b: "", c: null, d: 0 })).toBe("/x?a=1&d=0");
    expect(buildUrl("/x")).toBe("/x");
  });

  it("reads file names from Content-Disposition", () => {
    expect(filenameOf('attachment; filename="brottor.pdf"')).toBe("brottor.pdf");
    expect(filenameOf("attachment; filename*=UTF-8''br%C3%B6ttor.json")).toBe("bröttor.json");
    expect(filenameOf(null)).toBeNull();
  });

  it("keeps a session until it expires", () => {
    saveSession({ token: "t", expiresAt: new Date(Date.now() + 60_000).toISOString(), email: "a@b.c" });
    expect(loadSession()?.token).toBe("t");
    saveSession({ token: "t", expiresAt: new Date(Date.now() - 1).toISOString(), email: "a@b.c" });
    expect(loadSession()).toBeNull();
  });
});
