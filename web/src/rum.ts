// Real-user monitoring: page views, wizard step timings, web vitals and JavaScript errors, sent
// as batched JSON events to POST /api/metrics (docs/telemetry.md). It never throws into the
// app, never blocks it (sending is fire-and-forget), keeps a bounded queue, drops what the
// endpoint refuses (4xx, 429) or what cannot be sent (network down), and flushes with
// navigator.sendBeacon when the page is hidden (fetch with keepalive when there is no beacon or
// the browser refuses to queue it).
import { allowedPage, pageNameFor, type PageName } from "./pages";

export const ENDPOINT = "/api/metrics";
/** The api's HERO_FOUNDRY_TELEMETRY_MAX_EVENTS default: events per request. */
export const MAX_BATCH = 50;
/** The api's telemetry body cap is 16 KiB; stay under it with room to spare. */
export const MAX_BODY_BYTES = 15_000;
/** Events kept while waiting to be sent; past it the oldest are dropped. */
export const MAX_QUEUE = 200;
/** JavaScript error messages are cut to this many characters (the api logs at most 200). */
export const MAX_MESSAGE = 200;
/** At most this many js_error events per page load (an error in a render loop would flood). */
export const MAX_ERRORS = 20;
export const FLUSH_INTERVAL_MS = 10_000;
export const MAX_SECONDS = 86_400;

export const WIZARD_STEPS = [
  "race",
  "class",
  "background",
  "ability-scores",
  "choices",
  "spells",
  "details",
  "finalize",
] as const;
export type WizardStep = (typeof WIZARD_STEPS)[number];

export type VitalName = "LCP" | "INP" | "CLS" | "FCP" | "TTFB";
export type RumEvent =
  | { type: "page_view"; page: PageName; user_type: "anonymous" | "registered" }
  | { type: "wizard_step"; step: WizardStep; seconds: number }
  | { type: "wizard_complete"; seconds: number }
  | { type: "web_vital"; name: VitalName; value: number; page: PageName; rating?: string }
  | { type: "js_error"; page: PageName; message?: string };

export interface Transport {
  beacon?: (url: string, body: string) => boolean;
  post: (url: string, body: string) => Promise<{ status: number; retryAfter?: number }>;
}

export interface RumOptions {
  endpoint?: string;
  maxBatch?: number;
  maxQueue?: number;
  maxBodyBytes?: number;
  flushIntervalMs?: number;
  transport?: Transport;
  now?: () => number;
}

function defaultTransport(): Transport {
  const beacon =
    typeof navigator !== "undefined" && typeof navigator.sendBeacon === "function"
      ? (url: string, body: string) => navigator.sendBeacon(url, body)
      : undefined;
  return {
    beacon,
    post: async (url, body) => {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body,
        keepalive: true,
        credentials: "omit",
      });
      const retry = Number(response.headers.get("Retry-After"));
      return { status: response.status, retryAfter: Number.isFinite(retry) ? retry : undefined };
    },
  };
}

const encoder = typeof TextEncoder !== "undefined" ? new TextEncoder() : null;
function byteLength(text: string): number {
  return encoder ? encoder.encode(text).length : text.length * 3;
}

function finiteSeconds(value: number): number | null {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) return null;
  return Math.min(value, MAX_SECONDS);
}

export class Rum {
  readonly endpoint: string;
  readonly maxBatch: number;
  readonly maxQueue: number;
  readonly maxBodyBytes: number;
  readonly flushIntervalMs: number;
  private readonly transport: Transport;
  private readonly now: () => number;
  private queue: RumEvent[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pausedUntil = 0;
  private errors = 0;
  /** Counters for tests and debugging: events dropped (queue full, refused, failed). */
  dropped = 0;
  sent = 0;
  page: PageName = "other";
  landingPage: PageName | null = null;
  private uninstallers: (() => void)[] = [];

  constructor(options: RumOptions = {}) {
    this.endpoint = options.endpoint ?? ENDPOINT;
    this.maxBatch = options.maxBatch ?? MAX_BATCH;
    this.maxQueue = options.maxQueue ?? MAX_QUEUE;
    this.maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
    this.flushIntervalMs = options.flushIntervalMs ?? FLUSH_INTERVAL_MS;
    this.transport = options.transport ?? defaultTransport();
    this.now = options.now ?? (() => Date.now());
  }

  get pending(): readonly RumEvent[] {
    return this.queue;
  }

  /** Queue an event; a full batch is sent at once, the rest within the flush interval. */
  track(event: RumEvent): void {
    try {
      this.queue.push(event);
      while (this.queue.length > this.maxQueue) {
        this.queue.shift();
        this.dropped++;
      }
      if (this.queue.length >= this.maxBatch) this.flush(false);
      else this.schedule();
    } catch {
      /* monitoring must never break the app */
    }
  }

  pageView(page: string, registered: boolean): void {
    const name = allowedPage(page);
    this.page = name;
    if (this.landingPage === null) this.landingPage = name;
    this.track({ type: "page_view", page: name, user_type: registered ? "registered" : "anonymous" });
  }

  wizardStep(step: WizardStep, seconds: number): void {
    const value = finiteSeconds(seconds);
    if (value === null || !(WIZARD_STEPS as readonly string[]).includes(step)) return;
    this.track({ type: "wizard_step", step, seconds: round(value) });
  }

  wizardComplete(seconds: number): void {
    const value = finiteSeconds(seconds);
    if (value === null) return;
    this.track({ type: "wizard_complete", seconds: round(value) });
  }

  vital(name: VitalName, value: number, page?: string, rating?: string): void {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) return;
    const event: RumEvent = { type: "web_vital", name, value, page: allowedPage(page ?? this.page) };
    if (rating) event.rating = rating;
    this.track(event);
  }

  error(message: unknown): void {
    if (this.errors >= MAX_ERRORS) return;
    this.errors++;
    let text: string;
    try {
      text = String(message ?? "");
    } catch {
      text = "(unprintable error)";
    }
    this.track({ type: "js_error", page: this.page, message: text.slice(0, MAX_MESSAGE) });
  }

  /** Send everything queued. `beacon`: the page is going away (sendBeacon first). */
  flush(beacon = false): void {
    try {
      if (this.timer !== null) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      if (!beacon && this.now() < this.pausedUntil) {
        this.schedule();
        return;
      }
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.maxBatch);
        this.sendBatch(batch, beacon);
      }
    } catch {
      /* never throws */
    }
  }

  private sendBatch(batch: RumEvent[], beacon: boolean): void {
    const body = JSON.stringify({ events: batch });
    if (byteLength(body) > this.maxBodyBytes) {
      if (batch.length === 1) {
        this.dropped++;
        return;
      }
      const half = Math.ceil(batch.length / 2);
      this.sendBatch(batch.slice(0, half), beacon);
      this.sendBatch(batch.slice(half), beacon);
      return;
    }
    if (beacon && this.transport.beacon) {
      let queued = false;
      try {
        queued = this.transport.beacon(this.endpoint, body);
      } catch {
        queued = false;
      }
      if (queued) {
        this.sent += batch.length;
        return;
      }
    }
    this.post(body, batch.length);
  }

  private post(body: string, count: number): void {
    let pending: Promise<{ status: number; retryAfter?: number }>;
    try {
      pending = this.transport.post(this.endpoint, body);
    } catch {
      this.dropped += count;
      return;
    }
    pending.then(
      ({ status, retryAfter }) => {
        if (status >= 200 && status < 300) {
          this.sent += count;
          return;
        }
        // Refused: drop, never retry (a 4xx would be refused again). Over the rate: also
        // hold further sends for Retry-After seconds (events queue meanwhile, bounded).
        this.dropped += count;
        if (status === 429) this.pausedUntil = this.now() + Math.max(1, retryAfter ?? 60) * 1000;
      },
      () => {
        this.dropped += count; // network down: drop, the app goes on
      },
    );
  }

  private schedule(): void {
    if (this.timer !== null || !this.queue.length) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush(false);
    }, this.flushIntervalMs);
  }

  /** Listen for page hide, errors and (when given) web vitals. Returns an uninstaller. */
  install(target: Window = window, vitals?: (report: (name: VitalName, value: number, rating?: string) => void) => void): () => void {
    const onHide = () => this.flush(true);
    const onVisibility = () => {
      if (target.document.visibilityState === "hidden") this.flush(true);
    };
    const onError = (event: ErrorEvent) => {
      this.error(event.message || (event.error instanceof Error ? event.error.message : "error"));
    };
    const onRejection = (event: PromiseRejectionEvent) => {
      const reason = event.reason;
      this.error(
        `Unhandled rejection: ${reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason)}`,
      );
    };
    target.addEventListener("pagehide", onHide);
    target.document.addEventListener("visibilitychange", onVisibility);
    target.addEventListener("error", onError);
    target.addEventListener("unhandledrejection", onRejection);
    this.uninstallers.push(() => {
      target.removeEventListener("pagehide", onHide);
      target.document.removeEventListener("visibilitychange", onVisibility);
      target.removeEventListener("error", onError);
      target.removeEventListener("unhandledrejection", onRejection);
    });
    if (vitals) {
      try {
        // Load metrics (LCP, FCP, TTFB) belong to the page the visit landed on; INP and CLS
        // are reported when the page is hidden, for the page shown then.
        vitals((name, value, rating) => {
          const page = name === "INP" || name === "CLS" ? this.page : (this.landingPage ?? this.page);
          this.vital(name, value, page, rating);
        });
      } catch {
        /* no vitals in this browser */
      }
    }
    return () => this.uninstall();
  }

  uninstall(): void {
    for (const undo of this.uninstallers.splice(0)) undo();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/** Times the wizard: seconds spent on each server step while shown, and the whole run from the
 * first step shown to the character finalized. */
export class WizardClock {
  private readonly now: () => number;
  private started: number | null = null;
  private current: { step: WizardStep; since: number } | null = null;
  private spent = new Map<WizardStep, number>();

  constructor(now: () => number = () => performance.now()) {
    this.now = now;
  }

  show(step: WizardStep): void {
    const at = this.now();
    if (this.started === null) this.started = at;
    if (this.current?.step === step) return;
    this.pause();
    this.current = { step, since: at };
  }

  /** Stop counting (the step is no longer on screen). */
  pause(): void {
    if (!this.current) return;
    const { step, since } = this.current;
    this.spent.set(step, (this.spent.get(step) ?? 0) + (this.now() - since) / 1000);
    this.current = null;
  }

  /** Seconds spent on `step` so far (it keeps counting if still shown); resets it. */
  complete(step: WizardStep): number {
    let seconds = this.spent.get(step) ?? 0;
    if (this.current?.step === step) {
      const at = this.now();
      seconds += (at - this.current.since) / 1000;
      this.current = { step, since: at };
    }
    this.spent.delete(step);
    return seconds;
  }

  /** Seconds since the first step was shown (0 if none was). */
  total(): number {
    return this.started === null ? 0 : (this.now() - this.started) / 1000;
  }
}

/** The app's instance. */
export const rum = new Rum();

/** Start monitoring this page load: listeners and web vitals (loaded lazily, off the critical
 * path). Safe to call once; never throws. */
export function startRum(instance: Rum = rum): void {
  try {
    // Vitals may arrive before the first route renders: they belong to the landing page.
    instance.page = pageNameFor(window.location.pathname);
    instance.landingPage = instance.page;
    instance.install(window, (report) => {
      import("web-vitals")
        .then(({ onCLS, onFCP, onINP, onLCP, onTTFB }) => {
          const forward = (metric: { name: string; value: number; rating?: string }) =>
            report(metric.name as VitalName, metric.value, metric.rating);
          onLCP(forward);
          onINP(forward);
          onCLS(forward);
          onFCP(forward);
          onTTFB(forward);
        })
        .catch(() => {
          /* vitals are optional */
        });
    });
  } catch {
    /* never break the app */
  }
}
