"""What a load run is asked to do: :class:`Options`, and the checks made before it starts."""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field, replace

import httpx

DEFAULT_BASE_URL = "http://127.0.0.1:8000"

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|h|m|s)?", re.IGNORECASE)
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


#: Activities of a signed-in visit and their default relative weights (``Options.mix``
#: overrides some): create a character with the wizard, open a sheet, edit it (PATCH), level up,
#: search the rules and read an entry, ask the AI assistant, export (json, pdf, foundry in
#: turn), export and import a copy.
ACTIVITIES: dict[str, float] = {
    "create": 3.0,
    "view": 3.0,
    "edit": 2.0,
    "level_up": 2.5,
    "lookup": 3.0,
    "ask": 2.0,
    "export": 2.0,
    "import": 0.4,
}


class OptionsError(ValueError):
    """An option a load run cannot start with (the message says which and why)."""


class RemoteRefused(OptionsError):
    """The base URL is not a loopback address and remote targets were not allowed."""


def parse_duration(text: str | float | int) -> float:
    """``"2m"``, ``"90s"``, ``"1m30s"``, ``"1.5h"``, ``"500ms"`` or a number of seconds."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        spec = text.strip().lower().replace(" ", "")
        position, seconds = 0, 0.0
        while position < len(spec):
            match = _DURATION_PART.match(spec, position)
            if match is None:
                raise OptionsError(
                    f"invalid duration {text!r}: use e.g. 90s, 2m, 1m30s, 1h or a number of seconds"
                )
            number, unit = match.groups()
            seconds += float(number) * _SECONDS[unit or "s"]
            position = match.end()
        if not spec:
            raise OptionsError("invalid duration '': use e.g. 90s, 2m, 1m30s, 1h")
    if not math.isfinite(seconds) or seconds <= 0:
        raise OptionsError(f"the duration must be positive (got {text!r})")
    return seconds


def parse_mix(text: str) -> dict[str, float]:
    """``"ask=0,export=5"`` -> ``{"ask": 0.0, "export": 5.0}`` (names from :data:`ACTIVITIES`)."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip().replace("-", "_")
        try:
            mix[name] = float(value) if sep else float("nan")
        except ValueError:
            mix[name] = float("nan")
        if not sep or not math.isfinite(mix[name]):
            raise OptionsError(f"invalid mix entry {part!r}: expected name=weight, e.g. ask=0")
    return mix


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a URL's host) names this machine over the loopback interface."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, *, allow_remote: bool = False) -> httpx.URL:
    """The base URL, parsed; :class:`RemoteRefused` unless it is loopback or remote is allowed."""
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise OptionsError(f"invalid base URL {base_url!r}: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise OptionsError(f"invalid base URL {base_url!r}: expected http(s)://host[:port]")
    if not allow_remote and not is_loopback(url.host):
        raise RemoteRefused(
            f"refusing to send load to {url.host}: only loopback addresses (127.0.0.0/8, ::1, "
            "localhost) are targeted by default. Pass --allow-remote (allow_remote=True) if you "
            "own that server and mean to load it."
        )
    return url


@dataclass(frozen=True)
class Options:
    """A load run. Every field has the CLI option of the same name (``--max-rps`` ...)."""

    base_url: str = DEFAULT_BASE_URL
    #: Seconds; the run stops hard at this point (requests in flight are abandoned).
    duration: float | str = 120.0
    #: Virtual users, each looping over visits (sign in, a few activities, leave).
    users: int = 20
    #: Global cap on requests per second (a token bucket shared by every user).
    max_rps: float = 20.0
    #: Requests the bucket lets through at once after an idle moment (default: ``max_rps``).
    burst: float | None = None
    #: Same seed, same decisions for the same server answers (account e-mails excepted).
    seed: int | None = None
    #: Multiplies every think time (1: a person reading and clicking; 0: no pauses).
    think_time: float = 1.0
    #: Seconds over which the users start (spread evenly, randomly jittered).
    ramp_up: float = 5.0
    #: Browser telemetry batches to ``POST /api/metrics``.
    telemetry: bool = True
    #: Telemetry batches per minute for the whole run: the server allows 120 per client
    #: address and minute, and every virtual user shares this machine's address.
    telemetry_per_minute: float = 100.0
    #: Questions to the AI rules assistant.
    assistant: bool = True
    #: Weights of the activities, overriding :data:`ACTIVITIES` (e.g. ``{"ask": 5}``).
    mix: dict[str, float] = field(default_factory=dict)
    #: Seconds before one request counts as a timeout.
    timeout: float = 30.0
    #: The run fails (exit code 1) when errors exceed this share of the requests.
    max_error_rate: float = 0.05
    #: Allow a base URL that is not loopback.
    allow_remote: bool = False
    #: Seconds a user waits after a failed visit before starting a new one (scaled by the
    #: think time, at least 0.2 s).
    error_backoff: float = 1.0
    #: Tests: an httpx transport to use instead of the network (e.g. ``httpx.ASGITransport``).
    transport: httpx.AsyncBaseTransport | None = field(default=None, compare=False, repr=False)

    def checked(self) -> Options:
        """These options if a run can start with them, else :class:`OptionsError`."""
        check_base_url(self.base_url, allow_remote=self.allow_remote)
        duration = parse_duration(self.duration)
        problems = []
        if self.users < 1:
            problems.append(f"users must be at least 1 (got {self.users})")
        if not (self.max_rps > 0 and math.isfinite(self.max_rps)):
            problems.append(f"max_rps must be positive (got {self.max_rps})")
        if self.burst is not None and not self.burst >= 1:
            problems.append(f"burst must be at least 1 (got {self.burst})")
        if not (self.think_time >= 0 and math.isfinite(self.think_time)):
            problems.append(f"think_time must be 0 or more (got {self.think_time})")
        if not (self.ramp_up >= 0 and math.isfinite(self.ramp_up)):
            problems.append(f"ramp_up must be 0 or more (got {self.ramp_up})")
        if not self.telemetry_per_minute > 0:
            problems.append(
                f"telemetry_per_minute must be positive (got {self.telemetry_per_minute})"
            )
        if not self.timeout > 0:
            problems.append(f"timeout must be positive (got {self.timeout})")
        if not 0 <= self.max_error_rate <= 1:
            problems.append(f"max_error_rate must be within 0..1 (got {self.max_error_rate})")
        if not self.error_backoff >= 0:
            problems.append(f"error_backoff must be 0 or more (got {self.error_backoff})")
        unknown = sorted(set(self.mix) - set(ACTIVITIES))
        if unknown:
            problems.append(
                f"unknown activities in mix: {', '.join(unknown)} (known: {', '.join(ACTIVITIES)})"
            )
        elif any(not (w >= 0 and math.isfinite(w)) for w in self.mix.values()):
            problems.append("mix weights must be 0 or more")
        elif not any(self.weights.values()):
            problems.append("mix: at least one activity needs a positive weight")
        if problems:
            raise OptionsError("; ".join(problems))
        return replace(self, duration=duration)

    @property
    def weights(self) -> dict[str, float]:
        """Every activity's weight: the defaults, the mix, no questions without ``assistant``."""
        weights = {**ACTIVITIES, **self.mix}
        if not self.assistant:
            weights["ask"] = 0.0
        return weights

    @property
    def bucket_size(self) -> float:
        return max(1.0, self.burst if self.burst is not None else self.max_rps)
