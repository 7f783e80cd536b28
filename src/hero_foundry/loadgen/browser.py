"""What a virtual user's browser reports to ``POST /api/metrics``: page views, wizard step
timings, Core Web Vitals and now and then a JavaScript error, queued and sent in batches the way
the front end does (docs/telemetry.md). Page names and wizard steps are the service's own
allow-lists."""

from __future__ import annotations

import random
from typing import Any

from hero_foundry.observability.telemetry import PAGE_NAMES, TIME_VITALS, WIZARD_STEPS

#: Events per request (the server's default ``telemetry_max_events`` is 50).
MAX_BATCH = 50
#: A batch is sent once this many events wait (and at the end of every visit).
FLUSH_AT = 20
#: Events kept while the telemetry budget is spent; the oldest are dropped beyond that.
MAX_QUEUED = 200
#: Chance that a page view comes with a JavaScript error.
JS_ERROR_CHANCE = 0.03

#: Typical values (median, spread) of the time vitals in milliseconds, as web-vitals reports them.
_VITAL_MS = {"LCP": (1400.0, 0.5), "FCP": (900.0, 0.45), "TTFB": (180.0, 0.6), "INP": (90.0, 0.7)}
_JS_ERRORS = (
    "TypeError: Cannot read properties of undefined (reading 'options')",
    "ChunkLoadError: Loading chunk 7 failed.",
    "NetworkError when attempting to fetch resource.",
    "ResizeObserver loop completed with undelivered notifications.",
)


class Browser:
    """One user's telemetry queue."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.queue: list[dict[str, Any]] = []
        self.registered = False
        self.dropped = 0
        self._loaded = False

    def _push(self, event: dict[str, Any]) -> None:
        self.queue.append(event)
        if len(self.queue) > MAX_QUEUED:
            del self.queue[0]
            self.dropped += 1

    def new_visit(self) -> None:
        """A fresh page load: the next page view reports the load's vitals."""
        self._loaded = False
        self.registered = False

    def page_view(self, page: str) -> None:
        assert page in PAGE_NAMES, page
        self._push(
            {
                "type": "page_view",
                "page": page,
                "user_type": "registered" if self.registered else "anonymous",
            }
        )
        rng = self.rng
        if not self._loaded:  # a full load: every vital
            self._loaded = True
            for name in TIME_VITALS:
                self.vital(page, name)
            self.vital(page, "CLS")
        else:  # a client-side navigation: interaction and layout shift only, now and then
            if rng.random() < 0.5:
                self.vital(page, "INP")
            if rng.random() < 0.3:
                self.vital(page, "CLS")
        if rng.random() < JS_ERROR_CHANCE:
            self.js_error(page)

    def vital(self, page: str, name: str) -> None:
        rng = self.rng
        if name == "CLS":
            value = round(min(1.5, rng.lognormvariate(-3.0, 1.0)), 4)
        else:
            median, sigma = _VITAL_MS[name]
            value = round(median * rng.lognormvariate(0.0, sigma), 1)
        self._push({"type": "web_vital", "name": name, "value": value, "page": page})

    def js_error(self, page: str) -> None:
        self._push({"type": "js_error", "page": page, "message": self.rng.choice(_JS_ERRORS)})

    def wizard_step(self, step: str, seconds: float) -> None:
        assert step in WIZARD_STEPS, step
        self._push({"type": "wizard_step", "step": step, "seconds": round(max(0.0, seconds), 3)})

    def wizard_complete(self, seconds: float) -> None:
        self._push({"type": "wizard_complete", "seconds": round(max(0.0, seconds), 3)})

    def batch(self, force: bool = False) -> list[dict[str, Any]] | None:
        """The next batch to send (removed from the queue), or ``None`` when not yet due."""
        if not self.queue or (not force and len(self.queue) < FLUSH_AT):
            return None
        batch, self.queue = self.queue[:MAX_BATCH], self.queue[MAX_BATCH:]
        return batch

    def put_back(self, batch: list[dict[str, Any]]) -> None:
        """A batch that could not be sent now (no budget): keep it for later, bounded."""
        self.queue[:0] = batch
        while len(self.queue) > MAX_QUEUED:
            del self.queue[0]
            self.dropped += 1
