import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PAGE_NAMES, pageNameFor } from "../pages";
import { MAX_MESSAGE, Rum, WIZARD_STEPS, WizardClock, type RumEvent, type Transport } from "../rum";
import { pythonSource, pythonTuple } from "./python-constants";

interface Sent {
  via: "beacon" | "post";
  url: string;
  events: RumEvent[];
  body: string;
}

function fakeTransport(options: { beacon?: boolean | "absent"; status?: number; fail?: "reject" | "throw"; retryAfter?: number } = {}) {
  const sent: Sent[] = [];
  const record = (via: Sent["via"], url: string, body: string) => sent.push({ via, url, body, events: JSON.parse(body).events });
  const transport: Transport = {
    beacon:
      options.beacon === "absent"
        ? undefined
        : (url, body) => {
            if (options.beacon === false) return false;
            record("beacon", url, body);
            return true;
          },
    post: (url, body) => {
      if (options.fail === "throw") throw new Error("boom");
      record("post", url, body);
      if (options.fail === "reject") return Promise.reject(new TypeError("Failed to fetch"));
      return Promise.resolve({ status: options.status ?? 202, retryAfter: options.retryAfter });
    },
  };
  return { transport, sent };
}

const view = (n: number): RumEvent => ({ type: "page_view", page: n % 2 ? "home" : "characters", user_type: "anonymous" });

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("batching", () => {
  it("sends nothing until a batch is full, then exactly one batch of maxBatch events", () => {
    const { transport, sent } = fakeTransport();
    const rum = new Rum({ transport, maxBatch: 50 });
    for (let i = 0; i < 49; i++) rum.track(view(i));
    expect(sent).toHaveLength(0);
    rum.track(view(49));
    expect(sent).toHaveLength(1);
    expect(sent[0].via).toBe("post");
    expect(sent[0].url).toBe("/api/metrics");
    expect(sent[0].events).toHaveLength(50);
    expect(JSON.parse(sent[0].body)).toEqual({ events: sent[0].events });
    expect(rum.pending).toHaveLength(0);
  });

  it("sends what is queued after the flush interval", () => {
    const { transport, sent } = fakeTransport();
    const rum = new Rum({ transport, flushIntervalMs: 10_000 });
    rum.track(view(1));
    rum.track(view(2));
    vi.advanceTimersByTime(9_999);
    expect(sent).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(sent).toHaveLength(1);
    expect(sent[0].events).toHaveLength(2);
  });

  it("keeps each body under the size cap by splitting batches", () => {
    const { transport, sent } = fakeTransport();
    const rum = new Rum({ transport, maxBodyBytes: 2_000 });
    for (let i = 0; i < 30; i++) rum.error(`TypeError: ${"x".repeat(500)}`);
    rum.flush();
    expect(sent.length).toBeGreaterThan(1);
    expect(sent.reduce((n, s) => n + s.events.length, 0)).toBe(20); // MAX_ERRORS per page load
    for (const s of sent) expect(new TextEncoder().encode(s.body).length).toBeLessThanOrEqual(2_000);
  });

  it("bounds the queue: the oldest events are dropped", () => {
    const { transport, sent } = fakeTransport();
    const rum = new Rum({ transport, maxBatch: 100, maxQueue: 5 });
    for (let i = 0; i < 8; i++) rum.track({ type: "wizard_step", step: "race", seconds: i });
    expect(rum.pending.map((e) => (e as { seconds: number }).seconds)).toEqual([3, 4, 5, 6, 7]);
    expect(rum.dropped).toBe(3);
    expect(sent).toHaveLength(0);
  });
});

describe("page hide", () => {
  it("flushes with sendBeacon (a string body) on pagehide", () => {
    const { transport, sent } = fakeTransport();
    const rum = new Rum({ transport });
    const uninstall = rum.install(window);
    rum.pageView("characters", true);
    window.dispatchEvent(new Event("pagehide"));
    uninstall();
    expect(sent).toHaveLength(1);
    expect(sent[0].via).toBe("beacon");
    expect(sent[0].events).toEqual([{ type: "page_view", page: "characters", user_type: "registered" }]);
  });

  it("flushes with sendBeacon when the page becomes hidden, not when it becomes visible", () => {
    const { transport, sent } = fakeTransport();
    const rum = new Rum({ transport });
    const uninstall = rum.install(window);
    const state = vi.spyOn(document, "visibilityState", "get");
    rum.pageView("home", false);
    state.mockReturnValue("visible");
    document.dispatchEvent(new Event("visibilitychange"));
    expect(sent).toHaveLength(0);
    state.mockReturnValue("hidden");
    document.dispatchEvent(new Event("visibilitychange"));
    uninstall();
    expect(sent.map((s) => s.via)).toEqual(["beacon"]);
  });

  it("falls back to fetch (keepalive) when the browser refuses the beacon or has none", () => {
    for (const beacon of [false, "absent"] as const) {
      const { transport, sent } = fakeTransport({ beacon });
      const rum = new Rum({ transport });
      rum.pageView("home", false);
      rum.flush(true);
      expect(sent.map((s) => s.via)).toEqual(["post"]);
    }
  });

  it("uses the real navigator.sendBeacon by default", () => {
    const beacon = vi.fn(() => true);
    Object.defineProperty(navigator, "sendBeacon", { value: beacon, configurable: true });
    try {
      const rum = new Rum();
      rum.pageView("rules-search", false);
      rum.flush(true);
      expect(beacon).toHaveBeenCalledTimes(1);
      const [url, body] = beacon.mock.calls[0] as unknown as [string, string];
      expect(url).toBe("/api/metrics");
      expect(typeof body).toBe("string"); // text/plain: no CORS preflight, accepted by the api
      expect(JSON.parse(body).events[0].page).toBe("rules-search");
    } finally {
      delete (navigator as unknown as Record<string, unknown>).sendBeacon;
    }
  });
});

describe("failures never break the app", () => {
  it("drops a batch the endpoint refuses (4xx) without retrying it", async () => {
    const { transport, sent } = fakeTransport({ status: 422 });
    const rum = new Rum({ transport });
    rum.pageView("home", false);
    rum.flush();
    await vi.runAllTimersAsync();
    expect(rum.dropped).toBe(1);
    expect(rum.pending).toHaveLength(0);
    rum.flush();
    expect(sent).toHaveLength(1); // not re-sent
  });

  it("after a 429 waits Retry-After before sending again; events queue meanwhile", async () => {
    let now = 1_000_000;
    const { transport, sent } = fakeTransport({ status: 429, retryAfter: 30 });
    const rum = new Rum({ transport, now: () => now });
    rum.pageView("home", false);
    rum.flush();
    await Promise.resolve();
    await Promise.resolve();
    expect(rum.dropped).toBe(1);
    rum.pageView("characters", true);
    rum.flush();
    expect(sent).toHaveLength(1); // paused
    expect(rum.pending).toHaveLength(1);
    now += 31_000;
    rum.flush();
    expect(sent).toHaveLength(2);
  });

  it("drops what cannot be sent when the network is down, and never throws", async () => {
    const rejecting = fakeTransport({ fail: "reject" });
    const rum = new Rum({ transport: rejecting.transport });
    rum.pageView("home", false);
    expect(() => rum.flush()).not.toThrow();
    await vi.runAllTimersAsync();
    expect(rum.dropped).toBe(1);

    const throwing = fakeTransport({ fail: "throw" });
    const other = new Rum({ transport: throwing.transport });
    other.pageView("home", false);
    expect(() => other.flush()).not.toThrow();
    expect(other.dropped).toBe(1);
  });
});

describe("events", () => {
  it("sends only allow-listed page names", () => {
    const { transport, sent } = fakeTransport();
    const rum = new Rum({ transport });
    rum.pageView("admin", true);
    rum.pageView("/characters/123", false);
    rum.pageView("Home", false);
    rum.pageView("level-up", true);
    rum.flush();
    expect(sent[0].events.map((e) => (e as { page: string }).page)).toEqual(["other", "other", "other", "level-up"]);
  });

  it("names every route of the app with an allow-listed page", () => {
    const paths = {
      "/": "home",
      "/sign-in": "sign-in",
      "/sign-up": "sign-up",
      "/characters": "characters",
      "/characters/abc": "character-sheet",
      "/characters/abc/level-up": "level-up",
      "/characters/abc/export": "export",
      "/import": "import",
      "/rules": "rules-search",
      "/rules/spell/fireball": "rule-entry",
      "/assistant": "assistant",
      "/create/d1/race": "wizard-race",
      "/create/d1/class": "wizard-class",
      "/create/d1/background": "wizard-background",
      "/create/d1/abilities": "wizard-abilities",
      "/create/d1/skills": "wizard-skills",
      "/create/d1/equipment": "wizard-equipment",
      "/create/d1/spells": "wizard-spells",
      "/create/d1/details": "wizard-details",
      "/create/d1/review": "wizard-review",
      "/nowhere": "other",
    };
    for (const [path, name] of Object.entries(paths)) expect(pageNameFor(path), path).toBe(name);
  });

  it("mirrors the api's allow-lists exactly (telemetry.py)", () => {
    const source = pythonSource("src/hero_foundry/observability/telemetry.py");
    expect([...PAGE_NAMES]).toEqual(pythonTuple(source, "PAGE_NAMES", { OTHER_PAGE: "other" }));
    expect([...WIZARD_STEPS]).toEqual(pythonTuple(source, "WIZARD_STEPS"));
  });

  it("reports JavaScript errors and rejections, messages cut short, at most 20 a page load", () => {
    const { transport, sent } = fakeTransport();
    const rum = new Rum({ transport, maxBatch: 100 });
    const uninstall = rum.install(window);
    rum.pageView("wizard-spells", true);
    window.dispatchEvent(new ErrorEvent("error", { message: `TypeError: ${"y".repeat(500)}` }));
    const rejection = new Event("unhandledrejection") as PromiseRejectionEvent;
    Object.defineProperty(rejection, "reason", { value: new RangeError("too far") });
    window.dispatchEvent(rejection);
    for (let i = 0; i < 30; i++) window.dispatchEvent(new ErrorEvent("error", { message: `e${i}` }));
    uninstall();
    rum.flush();
    const errors = sent[0].events.filter((e) => e.type === "js_error") as { page: string; message: string }[];
    expect(errors).toHaveLength(20);
    expect(errors[0].page).toBe("wizard-spells");
    expect(errors[0].message).toHaveLength(MAX_MESSAGE);
    expect(errors[1].message).toBe("Unhandled rejection: RangeError: too far");
  });

  it("attributes load vitals to the landing page and INP/CLS to the page shown", () => {
    const { transport, sent } = fakeTransport();
    const rum = new Rum({ transport });
    let report: (name: "LCP" | "CLS" | "INP", value: number, rating?: string) => void = () => {};
    const uninstall = rum.install(window, (r) => {
      report = r;
    });
    rum.pageView("home", false);
    rum.pageView("rules-search", false);
    report("LCP", 1840.5, "good");
    report("CLS", 0.04);
    report("INP", -1); // not a measurement: dropped
    uninstall();
    rum.flush();
    expect(sent[0].events.slice(2)).toEqual([
      { type: "web_vital", name: "LCP", value: 1840.5, page: "home", rating: "good" },
      { type: "web_vital", name: "CLS", value: 0.04, page: "rules-search" },
    ]);
  });

  it("sends wizard timings in seconds within the api's range, and refuses unknown steps", () => {
    const { transport, sent } = fakeTransport();
    const rum = new Rum({ transport });
    rum.wizardStep("race", 42.1234);
    rum.wizardStep("choices", 100_000);
    rum.wizardStep("nonsense" as "race", 1);
    rum.wizardStep("class", Number.NaN);
    rum.wizardComplete(300);
    rum.flush();
    expect(sent[0].events).toEqual([
      { type: "wizard_step", step: "race", seconds: 42.123 },
      { type: "wizard_step", step: "choices", seconds: 86_400 },
      { type: "wizard_complete", seconds: 300 },
    ]);
  });
});

describe("WizardClock", () => {
  it("counts the time each step is shown, across visits, and the whole run", () => {
    let now = 0;
    const clock = new WizardClock(() => now);
    clock.show("race");
    now = 5_000;
    clock.show("class");
    now = 8_000;
    clock.pause(); // the player left the wizard
    now = 60_000;
    clock.show("class"); // and came back
    now = 62_000;
    expect(clock.complete("race")).toBe(5);
    expect(clock.complete("class")).toBe(5);
    expect(clock.complete("race")).toBe(0); // reset once sent
    expect(clock.total()).toBe(62);
  });
});
