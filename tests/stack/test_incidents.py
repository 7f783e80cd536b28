"""PagerDuty's incident semantics over the sink's records, and a drill's outcome."""

from __future__ import annotations

from typing import Any

from hero_foundry.stack.incidents import incidents, summarize


def pd(at: str, action: str, key: str, names: str = "HighErrorRate") -> dict[str, Any]:
    return {
        "received_at": f"2026-12-07T10:00:{at}Z",
        "channel": "pagerduty",
        "status": "firing" if action == "trigger" else "resolved",
        "alertnames": names.split(", "),
        "payload": {
            "dedup_key": key,
            "event_action": action,
            "payload": {"component": "fastapi-backend"},
        },
    }


def slack(at: str, status: str, name: str = "HighErrorRate") -> dict[str, Any]:
    return {
        "received_at": f"2026-12-07T10:00:{at}Z",
        "channel": "slack",
        "status": status,
        "alertnames": [name],
    }


def test_a_trigger_for_an_open_incident_updates_it_without_a_new_page() -> None:
    found = incidents(
        [
            pd("01.000", "trigger", "k1"),
            pd("06.000", "trigger", "k1", "HighErrorRate, ApiErrorBudgetBurn"),
            pd("20.000", "resolve", "k1"),
        ]
    )
    assert len(found) == 1
    (incident,) = found
    assert incident.triggers == ["2026-12-07T10:00:01.000Z", "2026-12-07T10:00:06.000Z"]
    assert incident.alertnames == ["HighErrorRate", "ApiErrorBudgetBurn"]
    assert incident.resolved_at == "2026-12-07T10:00:20.000Z" and not incident.open


def test_a_trigger_after_a_resolve_opens_a_second_incident_and_a_stray_resolve_is_ignored() -> None:
    found = incidents(
        [
            pd("09.000", "resolve", "k2"),  # nothing open: ignored
            pd("01.000", "trigger", "k1"),  # records are replayed in time order
            pd("05.000", "resolve", "k1"),
            pd("08.000", "trigger", "k1"),
        ]
    )
    assert [(i.dedup_key, i.opened_at[-7:], i.open) for i in found] == [
        ("k1", "01.000Z", False),
        ("k1", "08.000Z", True),
    ]


def test_a_drill_with_one_page_one_resolve_after_the_fix() -> None:
    records = [
        slack("03.000", "firing"),
        pd("03.100", "trigger", "k1"),
        pd("09.000", "trigger", "k1", "HighErrorRate, ApiErrorBudgetBurn"),
        slack("25.000", "resolved"),
        pd("25.100", "resolve", "k1"),
    ]
    outcome = summarize(
        records,
        alert="HighErrorRate",
        fault_at="2026-12-07T10:00:00.000Z",
        cleared_at="2026-12-07T10:00:20.000Z",
        until="2026-12-07T10:00:59.000Z",
    )
    assert outcome.pages == 1 and outcome.page_triggers == 2
    assert outcome.time_to_page == 3.1
    assert (outcome.false_resolves, outcome.flaps, outcome.resolves) == (0, 0, 1)


def test_a_flapping_alert_counts_its_false_resolves_flaps_and_extra_pages() -> None:
    records = [
        pd("02.000", "trigger", "k1"),
        slack("02.000", "firing"),
        pd("07.000", "resolve", "k1"),  # the fault is still on: a false resolve
        slack("07.000", "resolved"),  # and on Slack too
        pd("12.000", "trigger", "k1"),  # a second page
        slack("12.000", "firing"),  # a flap on Slack
        pd("30.000", "resolve", "k1"),
    ]
    outcome = summarize(
        records,
        alert="HighErrorRate",
        fault_at="2026-12-07T10:00:00.000Z",
        cleared_at="2026-12-07T10:00:20.000Z",
        until="2026-12-07T10:00:59.000Z",
    )
    assert outcome.pages == 2
    assert outcome.false_resolves == 2
    assert outcome.flaps == 2  # PagerDuty and Slack each fired again after a resolve
    assert outcome.resolves == 1


def test_records_outside_the_window_and_other_alerts_are_not_the_drill_s() -> None:
    records = [
        pd("01.000", "trigger", "old"),  # before the fault
        slack("05.000", "resolved", "HighCPUUsage"),  # another alert's resolve
    ]
    outcome = summarize(
        records,
        alert="HighErrorRate",
        fault_at="2026-12-07T10:00:02.000Z",
        cleared_at="2026-12-07T10:00:20.000Z",
        until="2026-12-07T10:00:59.000Z",
    )
    assert (outcome.pages, outcome.false_resolves, outcome.time_to_page) == (0, 0, None)
