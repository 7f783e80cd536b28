"""The drill file: which faults to inject, validated, written atomically, watched for changes.

The file is a JSON object of switches (any may be absent; absent, ``0``, ``false`` or ``null``
is off)::

    {"error_rate": 0.1, "latency_seconds": 3.0, "ai_failing": true,
     "wizard_clock_offset_seconds": 400, "level_up_clock_offset_seconds": 200}

:class:`DrillFile` is what a worker process holds: it stats the file at most once per
``interval`` (0.5 s) and re-reads it when its modification time, size or inode changed, so
every worker of a multi-worker server sees a change within a second, without a restart. A file
that cannot be read or is invalid is logged once (per version of the file) and ignored: no fault
is injected, nothing crashes.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from hero_foundry.observability.metrics import DRILL_ACTIVE, DRILL_NAMES

log = logging.getLogger("hero_foundry.drills")

#: Seconds between two stats of the drill file, at most, per process.
CHECK_INTERVAL = 0.5
#: ``extra`` of every drill log record (ECS ``event.action``).
EVENT = {"event.kind": "event", "event.action": "drill"}


@dataclass(frozen=True)
class Spec:
    """One drill switch: its JSON name, type, allowed range and CLI option."""

    name: str
    kind: type[float] | type[bool]
    option: str
    what: str
    low: float = 0.0
    high: float = 1.0
    unit: str = ""


SPECS: dict[str, Spec] = {
    spec.name: spec
    for spec in (
        Spec(
            "error_rate",
            float,
            "--error-rate",
            "share of /api/* requests answered 500 ('drill: injected error')",
            high=1.0,
        ),
        Spec(
            "latency_seconds",
            float,
            "--latency",
            "seconds of delay before each /api/* request is handled",
            high=60.0,
            unit="s",
        ),
        Spec(
            "ai_failing",
            bool,
            "--ai-failing",
            "the AI provider fails: 503, ai_query_failure_total grows",
        ),
        Spec(
            "wizard_clock_offset_seconds",
            float,
            "--wizard-clock-offset",
            "seconds added to the creation wizard's measured time",
            high=86_400.0,
            unit="s",
        ),
        Spec(
            "level_up_clock_offset_seconds",
            float,
            "--level-up-clock-offset",
            "seconds added to a level-up's measured time",
            high=86_400.0,
            unit="s",
        ),
    )
}
assert tuple(SPECS) == DRILL_NAMES, "metrics.DRILL_NAMES lists the drills of SPECS"


class InvalidDrill(ValueError):
    """A drill value or file that cannot be used; the message says why."""


@dataclass(frozen=True)
class Drills:
    """The faults to inject; the defaults inject nothing."""

    error_rate: float = 0.0
    latency_seconds: float = 0.0
    ai_failing: bool = False
    wizard_clock_offset_seconds: float = 0.0
    level_up_clock_offset_seconds: float = 0.0

    def active(self) -> dict[str, float | bool]:
        """The switches that are on, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    def describe(self) -> str:
        """``error_rate=0.1, ai_failing=true``, or ``none``."""
        on = self.active()
        return ", ".join(f"{k}={_show(v)}" for k, v in on.items()) if on else "none"


NO_DRILLS = Drills()
_UNREAD = (-2, -2, -2)


def _show(value: float | bool) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else f"{value:g}"


def check(name: str, value: object) -> float | bool:
    """``value`` for the drill ``name``, validated: a bool for switches, a finite number in
    range for the others (``None`` is off). Raises :class:`InvalidDrill`."""
    spec = SPECS.get(name)
    if spec is None:
        raise InvalidDrill(f"unknown drill {name!r} (known: {', '.join(SPECS)})")
    if value is None:
        return spec.kind()
    if spec.kind is bool:
        if not isinstance(value, bool):
            raise InvalidDrill(f"{name} must be true or false, not {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidDrill(f"{name} must be a number, not {value!r}")
    if not spec.low <= value <= spec.high:
        raise InvalidDrill(
            f"{name} must be between {spec.low:g} and {spec.high:g}{spec.unit}, not {value:g}"
        )
    return float(value)


def parse(data: object) -> Drills:
    """The drills of a decoded drill file. Raises :class:`InvalidDrill`."""
    if not isinstance(data, Mapping):
        raise InvalidDrill(f"the drill file must hold a JSON object, not {type(data).__name__}")
    return Drills(**{name: check(str(name), value) for name, value in data.items()})


def read_raw(path: Path) -> dict[str, Any]:
    """The drill file's object as written (``{}`` when there is no file); validated."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InvalidDrill(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise InvalidDrill(f"{path} is not JSON: {exc}") from exc
    try:
        parse(data)
    except InvalidDrill as exc:
        raise InvalidDrill(f"{path}: {exc}") from None
    return dict(data)


def load(path: Path) -> Drills:
    """The drills of the file at ``path`` (none when there is no file)."""
    return parse(read_raw(path))


def write(path: Path, data: Mapping[str, Any]) -> None:
    """Validate ``data`` and replace the drill file with it atomically (temporary file in the
    same directory, then rename): a reader sees the old file or the new one, never half."""
    parse(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(dict(data), out, indent=2, sort_keys=True)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def publish(drills: Drills) -> None:
    """Set ``drill_active{drill}`` for every drill (1 on, 0 off)."""
    for name in DRILL_NAMES:
        DRILL_ACTIVE.labels(name).set(1 if getattr(drills, name) else 0)


class DrillFile:
    """One process's view of the drill file, refreshed when the file changes.

    Not thread-safe, and need not be: it is used from the event loop only."""

    def __init__(
        self,
        path: Path,
        *,
        interval: float = CHECK_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.interval = interval
        self._clock = clock
        self._checked_at = -math.inf
        #: (mtime_ns, size, inode) of the version read last; None: no file.
        self._version: tuple[int, int, int] | None = _UNREAD
        self.drills = NO_DRILLS
        #: Why the file is ignored, while it is.
        self.error: str | None = None
        log.warning("fault drills enabled: reading %s", path, extra=EVENT)

    def current(self) -> Drills:
        """The drills in force: the file is looked at again once ``interval`` has passed."""
        now = self._clock()
        if now - self._checked_at >= self.interval:
            self._checked_at = now
            self._refresh()
        return self.drills

    def _refresh(self) -> None:
        try:
            stat = os.stat(self.path)
            version: tuple[int, int, int] | None = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except FileNotFoundError:
            version = None
        except OSError as exc:  # e.g. a permission problem on the directory
            self._version = (-1, -1, -1)
            self._invalid(f"cannot stat {self.path}: {exc.strerror}")
            return
        if version == self._version:
            return
        self._version = version
        try:
            drills = NO_DRILLS if version is None else load(self.path)
        except InvalidDrill as exc:
            self._invalid(str(exc))
            return
        self.error = None
        self._apply(drills)

    def _invalid(self, reason: str) -> None:
        """Logged once (until the reason changes); no drill is in force meanwhile."""
        if reason != self.error:
            log.error("drill file ignored, no fault injected: %s", reason, extra=EVENT)
        self.error = reason
        self._apply(NO_DRILLS)

    def _apply(self, drills: Drills) -> None:
        if drills != self.drills:
            log.warning("drills in force: %s (%s)", drills.describe(), self.path, extra=EVENT)
        self.drills = drills
        publish(drills)
