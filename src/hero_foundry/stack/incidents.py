"""What the on-call engineer gets: PagerDuty's incidents, and flaps, read from the sink's records.

PagerDuty (Events API v2) opens an incident, and pages someone, for a ``trigger`` whose
``dedup_key`` has no open incident; a ``trigger`` with the key of an open incident only updates
it (no new page); a ``resolve`` closes it. Alertmanager's dedup key is the notification group's,
so one group is one incident. :func:`incidents` replays the sink's PagerDuty records with those
rules; :func:`summarize` measures a drill: pages, time to page, false resolves (a resolve, on any
channel, while the fault was still on), flaps (an alert notified as firing again after it was
notified as resolved) and resolves after the fix.

Pure functions over records (``hero_foundry.stack.sink``'s format), used by the end-to-end drills
and by the sink's ``GET /incidents``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

Record = Mapping[str, Any]


@dataclass
class Incident:
    """One PagerDuty incident: opened by a trigger, updated by further triggers, resolved once."""

    dedup_key: str
    component: str
    opened_at: str
    alertnames: list[str] = field(default_factory=list)
    #: Every trigger event of it (the first opened it), by ``received_at``.
    triggers: list[str] = field(default_factory=list)
    resolved_at: str | None = None

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"open": self.open}


def _pagerduty(records: Iterable[Record]) -> list[Record]:
    events = [r for r in records if r.get("channel") == "pagerduty"]
    return sorted(events, key=lambda r: str(r.get("received_at", "")))


def incidents(records: Iterable[Record]) -> list[Incident]:
    """The incidents PagerDuty would hold after these records, in the order they opened. A
    resolve without an open incident changes nothing (PagerDuty ignores it too)."""
    opened: list[Incident] = []
    current: dict[str, Incident] = {}
    for record in _pagerduty(records):
        payload = record.get("payload") or {}
        key = str(payload.get("dedup_key") or "")
        action = payload.get("event_action")
        at = str(record.get("received_at", ""))
        names = [str(n) for n in record.get("alertnames") or []]
        if action == "trigger":
            incident = current.get(key)
            if incident is None:
                body = payload.get("payload") or {}
                incident = Incident(key, str(body.get("component") or ""), at)
                current[key] = incident
                opened.append(incident)
            incident.triggers.append(at)
            incident.alertnames.extend(n for n in names if n not in incident.alertnames)
        elif action == "resolve" and key in current:
            current.pop(key).resolved_at = at
    return opened


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _seconds(start: str, end: str) -> float:
    return (_parse(end) - _parse(start)).total_seconds()


@dataclass(frozen=True)
class DrillOutcome:
    """What a drill sent to people, between the fault and the end of its observation."""

    #: Incidents opened (each one paged someone).
    pages: int
    #: Trigger events sent to PagerDuty (updates of an open incident included).
    page_triggers: int
    #: Seconds from the fault to the first page (None: no page).
    time_to_page: float | None
    #: Notifications saying RESOLVED while the fault was still on: of the drill's alert on any
    #: channel, or of any PagerDuty incident.
    false_resolves: int
    #: Times the alert was notified firing again on a channel after it was notified resolved.
    flaps: int
    #: PagerDuty resolves after the fix.
    resolves: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(
    records: Iterable[Record], *, alert: str, fault_at: str, cleared_at: str, until: str
) -> DrillOutcome:
    """The outcome of a drill of ``alert``: the records received in ``[fault_at, until]``, the
    fault removed at ``cleared_at``. Pages count every incident opened in the window, whatever
    its alerts (a page for something else during the drill is noise too)."""
    window = [r for r in records if fault_at <= str(r.get("received_at", "")) <= until]
    opened = incidents(window)
    mine = [r for r in window if alert in (r.get("alertnames") or [])]
    early = [r for r in window if str(r["received_at"]) < cleared_at]
    false_resolves = sum(
        1
        for r in early
        if r.get("status") == "resolved"
        and (alert in (r.get("alertnames") or []) or r.get("channel") == "pagerduty")
    )
    flaps = 0
    for channel in {str(r.get("channel")) for r in mine}:
        resolved_once = False
        for record in sorted(
            (r for r in mine if r.get("channel") == channel), key=lambda r: r["received_at"]
        ):
            if record.get("status") == "resolved":
                resolved_once = True
            elif resolved_once:
                flaps += 1
                resolved_once = False
    resolves = sum(
        1
        for r in _pagerduty(window)
        if (r.get("payload") or {}).get("event_action") == "resolve"
        and str(r["received_at"]) >= cleared_at
    )
    return DrillOutcome(
        pages=len(opened),
        page_triggers=sum(len(i.triggers) for i in opened),
        time_to_page=_seconds(fault_at, opened[0].opened_at) if opened else None,
        false_resolves=false_resolves,
        flaps=flaps,
        resolves=resolves,
    )
