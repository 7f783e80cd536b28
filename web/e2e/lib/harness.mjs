// The browser end-to-end suite's harness: Debian's Chromium driven by playwright-core (no
// browser download), one browser per run, one context per user, console errors collected per
// page, screenshots for review, and small helpers to read the api the way a test must (the
// character's JSON with the page's own token, the api's Prometheus text from loopback).
//
// Settings (environment; tests/browser/test_browser.py sets them):
//   HERO_FOUNDRY_E2E_BASE_URL     the web tier (required), e.g. http://127.0.0.1:3000
//   HERO_FOUNDRY_E2E_API_URL      the api itself (required): its /metrics, from loopback
//   HERO_FOUNDRY_E2E_CHROMIUM     the browser (default /usr/bin/chromium)
//   HERO_FOUNDRY_E2E_SCREENSHOTS  where page screenshots go (default docs/screenshots)
//   HERO_FOUNDRY_E2E_ARTIFACTS    where a failing test's last page is saved (default: a
//                                 temporary directory, printed)
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, "..", "..", "..");

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the suite through tests/browser/test_browser.py, or set it (docs/browser-tests.md)`);
  return value.replace(/\/+$/, "");
}

export const BASE_URL = required("HERO_FOUNDRY_E2E_BASE_URL");
export const API_URL = required("HERO_FOUNDRY_E2E_API_URL");
export const CHROMIUM = process.env.HERO_FOUNDRY_E2E_CHROMIUM || "/usr/bin/chromium";
export const SCREENSHOTS = path.resolve(process.env.HERO_FOUNDRY_E2E_SCREENSHOTS || path.join(REPO, "docs", "screenshots"));
export const ARTIFACTS = process.env.HERO_FOUNDRY_E2E_ARTIFACTS || mkdtempSync(path.join(tmpdir(), "hero-foundry-e2e-"));

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 812 };

/** How long one action or expectation may wait for the page (not a timing assertion: the
 * page is polled until the condition holds, and this only bounds a hang). */
export const ACTION_TIMEOUT_MS = 15_000;

export async function launch() {
  const args = [
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    // The same page, the same pixels: one colour profile, whole-tile rasterization.
    "--force-color-profile=srgb",
    "--disable-partial-raster",
    "--disable-skia-runtime-opts",
  ];
  // Chromium's sandbox needs user namespaces, which root (CI, containers) does not get.
  if (typeof process.getuid === "function" && process.getuid() === 0) args.push("--no-sandbox");
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

/**
 * A user's browser: a fresh context (its own localStorage, so its own session) and one page,
 * with every console error and uncaught page error recorded. `expectErrors(regexp)` declares
 * an error the current test provokes on purpose (a 404 it asks for); `assertNoErrors()` fails
 * with any other.
 */
export async function openUser(browser, { viewport = DESKTOP, name = "user" } = {}) {
  const context = await browser.newContext({
    viewport,
    deviceScaleFactor: 1,
    isMobile: viewport.width < 600,
    hasTouch: viewport.width < 600,
    acceptDownloads: true,
    locale: "en-GB",
    timezoneId: "UTC",
    reducedMotion: "reduce",
  });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
  const page = await context.newPage();
  const errors = [];
  let expected = [];
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const location = message.location();
    errors.push({ text: message.text(), url: location?.url ?? "" });
  });
  page.on("pageerror", (error) => errors.push({ text: `uncaught: ${error.name}: ${error.message}`, url: "" }));
  return {
    name,
    context,
    page,
    expectErrors(...patterns) {
      expected.push(...patterns);
    },
    /** Forget what was seen and expected (a failed test's errors are not the next one's). */
    forget() {
      errors.length = 0;
      expected = [];
    },
    /** Fails with the console errors nobody expected; forgets what was seen and expected. */
    assertNoErrors(where) {
      const seen = errors.splice(0);
      const unexpected = seen.filter((e) => !expected.some((p) => p.test(e.text)));
      expected = [];
      assert.deepEqual(
        unexpected.map((e) => `${e.text}${e.url ? ` (${e.url})` : ""}`),
        [],
        `JavaScript console errors in ${name}'s browser during ${where}`,
      );
    },
    async close() {
      await context.close();
    },
  };
}

/** A screenshot of the current page, as docs/screenshots/<name>.png: the whole page (for
 * review), or with `{ fullPage: false }` the screen as the viewport shows it. The pointer is
 * moved away, the focus dropped, the caret hidden and animations stopped, so that the same page
 * gives the same picture (blurring is harmless: the next step clicks or fills again). */
export async function screenshot(page, name, { fullPage = true } = {}) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  // No hover or focus ring left by the last click: the picture depends on the page only.
  await page.mouse.move(1, 1);
  await page.evaluate(() => {
    if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
    return document.fonts.ready;
  });
  await page.screenshot({ path: file, fullPage, animations: "disabled", caret: "hide" });
  return file;
}

/** The page as it was when a test failed: a screenshot and its HTML, for the report. */
export async function saveFailure(page, testName) {
  try {
    mkdirSync(ARTIFACTS, { recursive: true });
    const stem = path.join(ARTIFACTS, testName.replace(/[^\w-]+/g, "-").slice(0, 80));
    await page.screenshot({ path: `${stem}.png`, fullPage: true, timeout: 5_000 });
    writeFileSync(`${stem}.html`, await page.content());
    return `${stem}.png (${page.url()})`;
  } catch (error) {
    return `(no screenshot: ${error.message})`;
  }
}

/** The bearer token the app keeps in localStorage (api/client.ts, "hero-foundry.session"). */
export async function tokenOf(page) {
  const raw = await page.evaluate(() => window.localStorage.getItem("hero-foundry.session"));
  assert.ok(raw, "the app keeps no session in localStorage: not signed in?");
  return JSON.parse(raw).token;
}

/** GET an api path through the web tier with the page's own token, as JSON. */
export async function apiGet(page, apiPath) {
  const token = await tokenOf(page);
  const response = await fetch(`${BASE_URL}${apiPath}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200, `GET ${apiPath}: ${response.status} ${await response.clone().text()}`);
  return response.json();
}

/** The api's Prometheus text (from loopback, no token: `/metrics`' own rule), summed by series
 * name and labels: {"page_views_total{page_name=\"home\",user_type=\"anonymous\"}": 3, ...}. */
export async function apiMetrics() {
  const response = await fetch(`${API_URL}/metrics`);
  assert.equal(response.status, 200, `GET ${API_URL}/metrics: ${response.status}`);
  const samples = new Map();
  for (const line of (await response.text()).split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^(\S+?(?:\{.*\})?)\s+(\S+)(?:\s+\S+)?$/.exec(line);
    if (match) samples.set(match[1], Number(match[2]));
  }
  return samples;
}

/** The sum of a metric's samples whose labels include every `labels` pair. */
export function total(samples, metric, labels = {}) {
  let sum = 0;
  for (const [series, value] of samples) {
    const brace = series.indexOf("{");
    const name = brace < 0 ? series : series.slice(0, brace);
    if (name !== metric) continue;
    const text = brace < 0 ? "" : series.slice(brace);
    if (Object.entries(labels).every(([k, v]) => text.includes(`${k}="${v}"`))) sum += value;
  }
  return sum;
}

/** Poll `check` (async, returns a value or throws) until it passes, at most `timeoutMs`; the
 * last failure is rethrown. For things that happen in the background (a beacon's arrival). */
export async function eventually(check, timeoutMs = ACTION_TIMEOUT_MS, intervalMs = 250) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

/** Whole seconds are enough to make these addresses unique in one run; a counter makes them
 * unique within a second. */
let counter = 0;
export function uniqueEmail(who) {
  counter += 1;
  return `${who}-${Date.now().toString(36)}-${counter}@example.com`;
}
