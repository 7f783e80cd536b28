"""The whole system, live, broken on purpose: each drill reaches its receivers, then resolves.

One stack in fast mode (``conftest.system``: the api with 2 workers on its own PostgreSQL and
Redis, their exporters, the node exporter, Prometheus and Alertmanager running the repository's
``monitoring/`` files, the notification sink). The drills run in this order, each one cleared
and its resolution awaited before the next:

1. the api killed -> ServiceDown (fastapi-backend) pages PagerDuty, posts to Slack, mails the
   team; restarted -> resolved;
2. PostgreSQL stopped -> PostgreSQLDown, ``/readyz`` 503 naming the database, and the api's
   symptoms (HighErrorRate, ...) suppressed by Alertmanager's inhibition: none reaches anyone;
   started again -> resolved, and no character stored before is lost;
3. 10 % injected errors -> HighErrorRate (critical);
4. 3 s added latency -> HighResponseTime (warning: Slack and e-mail, never PagerDuty), and the
   latency budget's page;
5. a failing AI provider -> AIServiceDown, and no page;
6. a slow wizard clock (+400 s) -> CharacterCreationSlow;

then the Watchdog is shown to have reached the dead man's switch all along, and every panel of
every dashboard to return data from the live Prometheus after a load run.

For each drill, what people got is counted from the sink's records
(:mod:`hero_foundry.stack.incidents`): exactly the expected PagerDuty incidents (one for a
paging fault, none for a ticket), one resolve each after the fix, no resolve while the fault is
on, no flap, nothing notified but the fault's own alerts; and the time from the fault to the
first notification and to the page, set beside the theoretical minimum of the generated fast
configuration and of the production files (``timing.py``); the table is printed at the end of
the run and written as JSON.
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest

from hero_foundry.drills import state as drills
from hero_foundry.monitoring import dashboards, runbooks
from hero_foundry.monitoring.grafana import promql
from hero_foundry.observability import build
from hero_foundry.stack import incidents
from tests.e2e import timing
from tests.e2e.conftest import ROOT, Keeper, System, iso, parse_iso, utc_now, wait_until

API_JOB = "fastapi-backend"
#: The api's symptoms that Alertmanager inhibits while PostgreSQL (or Redis) is down.
SYMPTOMS = ("HighErrorRate", "HighResponseTime", "ApiErrorBudgetBurn", "ApiLatencyBudgetBurn")
CRITICAL = {"pagerduty-critical", "team-slack", "team-email"}
WARNING = {"team-slack", "team-email"}
#: Bounded waits (seconds): the slowest fast-mode alert (AIServiceDown, for: 10 s, after its
#: 5 s window fills) notifies in about 15 s; these leave room for a busy 2-core machine.
NOTIFY_TIMEOUT = 45
#: Real alerts about this machine (node exporter), unrelated to any drill: a busy or full
#: machine may raise them at any time; they are told apart by name.
MACHINE_ALERTS = {"HighCPUUsage", "HighMemoryUsage", "DiskSpaceLow"}
#: A resolve waits for the rule's window to empty of the fault, then keep_firing_for (10 s at
#: least in fast mode) and the group's next group_interval tick.
RESOLVE_TIMEOUT = 90
#: After the resolve, until no incident is open and no critical alert fires (the observation
#: window of a drill's pages ends there).
SETTLE_TIMEOUT = 90


@dataclass(frozen=True)
class Drill:
    name: str
    alert: str
    #: The scrape job whose samples show the fault (its scrape interval is in the minimum).
    job: str
    #: Who must be notified (checked against the routes of the generated configuration too).
    receivers: frozenset[str]
    #: PagerDuty incidents the fault must open: one for a paging fault, none for a ticket.
    pages: int = 1
    #: Other alerts the fault may notify (the same fault seen by another rule); anything else
    #: notified during the drill (but the machine's own alerts) is noise and fails it.
    also: frozenset[str] = frozenset()


# -- Waiting for and checking notifications --------------------------------------------------------
def expect(
    live: System,
    drill: Drill,
    status: str,
    since: str,
    timeout: float,
    fired: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """The first ``status`` notification of the drill's alert at each expected receiver since
    ``since``; fails with the sink's records and both servers' alerts after ``timeout``.

    PagerDuty's "resolved" is the resolve of the incident the firing notification (``fired``)
    opened or updated, whatever alerts it lists: an incident holds every critical alert of the
    service, and its resolve lists those that resolved last (the drill's alert may have resolved,
    and been reported, earlier in an update)."""
    labels = live.fast.labels(drill.alert, drill.job)
    title = f"{drill.alert} ({labels['service']})"
    incident = None
    if status == "resolved" and fired and "pagerduty-critical" in fired:
        incident = fired["pagerduty-critical"]["payload"].get("dedup_key")

    def mine(record: dict[str, Any]) -> bool:
        if incident is not None and record.get("channel") == "pagerduty":
            return record["payload"].get("dedup_key") == incident
        return drill.alert in (record.get("alertnames") or []) and title in record["title"]

    def found() -> dict[str, dict[str, Any]] | None:
        got: dict[str, dict[str, Any]] = {}
        for record in live.records(since, status=status):
            receiver = record.get("receiver")
            if receiver in drill.receivers and receiver not in got and mine(record):
                got[receiver] = record
        return got if set(got) == drill.receivers else None

    try:
        return wait_until(found, timeout, f"{drill.name}: {status} {drill.alert}")
    except TimeoutError:
        got = {r.get("receiver") for r in live.records(since, status=status) if mine(r)}
        pytest.fail(
            f"{drill.name}: no {status} {drill.alert} notification at "
            f"{sorted(drill.receivers - got)} within {timeout:g} s (expected "
            f"{sorted(drill.receivers)})\n{live.diagnostics(since)}"
        )


def check_rendered(live: System, drill: Drill, records: dict[str, dict[str, Any]]) -> None:
    """Each receiver got the repository's templates rendered: the title names status, severity
    (of the alerts firing), alert, service and environment; the summary annotation, the first
    action and working links (runbook, Prometheus; the dashboard panel of the alert's signal)."""
    labels = live.fast.labels(drill.alert, drill.job)
    summary = live.fast.summary(drill.alert, drill.job)
    annotations = live.fast.rule(drill.alert).annotations
    for receiver, record in records.items():
        status = record["status"]
        # A PagerDuty resolve lists the incident's alerts that resolved last (maybe not the
        # drill's): any alert names of the service there.
        names = (
            r"\S+(?:, \S+)*"
            if channel_of(record) == "pagerduty" and status == "resolved"
            else rf"(?:\S+, )*{drill.alert}(?:, \S+)*"
        )
        title = re.compile(
            rf"^\[{status.upper()}:\d+\] {labels['severity']} {names}"
            rf" \({labels['service']}\) in {labels['environment']}"
        )
        assert title.match(record["title"]), (receiver, record["title"])
        channel, payload = record["channel"], record["payload"]
        if channel == "slack":
            verb = "Firing" if status == "firing" else "Resolved"
            text = record["text"]
            assert f"*{verb}:* {summary}" in text, text
            assert payload["channel"] == "#hero-foundry-alerts"
            assert payload["attachments"][0]["color"] == (
                "good" if status == "resolved" else
                "danger" if labels["severity"] == "critical" else "warning"
            )  # fmt: skip
            if status == "firing":
                assert f"*First action:* {annotations['action'].strip()}" in text, text
            links = dict(
                (name, url)
                for url, name in re.findall(r"<([^|>]+)\|(Dashboard|Runbook|Prometheus)>", text)
            )
            check_links(live, record["alertnames"], links)
        elif channel == "pagerduty":
            action = "trigger" if status == "firing" else "resolve"
            assert payload["event_action"] == action
            assert payload["payload"]["severity"] == labels["severity"]
            if status == "firing":
                assert drill.alert in payload["payload"]["class"].split(", ")
                if payload["payload"]["class"] == drill.alert:
                    assert payload["payload"]["summary"].endswith(f": {summary}")
            assert payload["routing_key"], "the local routing key file was read"
            details = payload["payload"]["custom_details"]
            if status == "firing":
                assert details["first_action"].strip(), details
            check_links(
                live,
                record["alertnames"],
                {link["text"]: link["href"] for link in payload.get("links") or []},
            )
        elif channel == "email":
            assert record["title"].endswith(f": {summary}"), record["title"]
            assert f"{status.upper()}: {summary}" in record["text"]
            assert payload["envelope"]["rcpt_tos"] == ["hero-foundry-team@herofoundry.com"]
        else:
            pytest.fail(f"unexpected channel {channel} for {receiver}")


def channel_of(record: dict[str, Any]) -> str:
    return str(record.get("channel"))


def check_links(live: System, names: list[str], links: dict[str, str]) -> None:
    """The runbook link opens the runbook of an alert of the notification (served by the local
    sink), the Prometheus link opens Prometheus' graph of an expression, and the dashboard link
    names the dashboard and panel of that alert's signal with a time range (Grafana does not run
    here: its links are checked against the committed dashboards by tests/monitoring)."""
    assert set(links) == {"Dashboard", "Runbook", "Prometheus"}, links
    runbooks = {f"{live.stack.urls['sink']}/runbooks/{name}.md": name for name in names}
    assert links["Runbook"] in runbooks, (links["Runbook"], names)
    status, page = live.fetch(links["Runbook"])
    name = runbooks[links["Runbook"]]
    assert status == 200 and f"{name}</h1>" in page, (links["Runbook"], status)
    assert links["Prometheus"].startswith(f"{live.stack.urls['prometheus']}/graph?g0.expr=")
    status, _ = live.fetch(links["Prometheus"])
    assert status == 200, links["Prometheus"]
    annotations = live.fast.rules[name][0].annotations
    dashboard = links["Dashboard"]
    panel = f"/d/{annotations['dashboard_uid']}?orgId=1&viewPanel={annotations['panel_id']}&from="
    assert panel in dashboard, dashboard


def seconds_between(start: str, end: str) -> float:
    return (parse_iso(end) - parse_iso(start)).total_seconds()


def _rfc3339(text: str) -> str:
    """Go's nanosecond timestamps cut to microseconds (what Python parses)."""
    return re.sub(r"(\.\d{6})\d+", r"\1", text)


def stages(live: System, drill: Drill, fault_at: str) -> tuple[float | None, float | None]:
    """Seconds from the fault until the alert was pending in Prometheus (``activeAt``) and
    until it fired (``startsAt`` in Alertmanager: Prometheus sends the firing time), read while
    the fault is still on."""
    service = live.fast.labels(drill.alert, drill.job)["service"]

    def mine(labels: dict[str, str]) -> bool:
        return labels.get("alertname") == drill.alert and labels.get("service") == service

    try:
        pending = [a["activeAt"] for a in live.prometheus_alerts() if mine(a["labels"])]
        firing = [a["startsAt"] for a in live.alertmanager_alerts() if mine(a["labels"])]
    except OSError:
        return None, None
    return (
        seconds_between(fault_at, _rfc3339(min(pending))) if pending else None,
        seconds_between(fault_at, _rfc3339(min(firing))) if firing else None,
    )


def record_result(
    live: System,
    drill: Drill,
    fault_at: str,
    fired: dict[str, dict[str, Any]],
    cleared_at: str | None = None,
    resolved: dict[str, dict[str, Any]] | None = None,
    notes: tuple[str, ...] = (),
    when: tuple[float | None, float | None] = (None, None),
    outcome: incidents.DrillOutcome | None = None,
) -> timing.Result:
    per_receiver = {r: seconds_between(fault_at, rec["received_at"]) for r, rec in fired.items()}
    fast = live.fast.minimum(drill.alert, drill.job)
    result = timing.Result(
        drill=drill.name,
        alert=drill.alert,
        receivers=sorted(fired),
        fault_at=fault_at,
        measured=min(per_receiver.values()),
        per_receiver=per_receiver,
        fast_minimum=timing.minimum_dict(fast),
        production_minimum=timing.minimum_dict(live.production.minimum(drill.alert, drill.job)),
        resolved_after=(
            max(seconds_between(cleared_at, r["received_at"]) for r in resolved.values())
            if cleared_at and resolved
            else None
        ),
        pending_after=when[0],
        firing_after=when[1],
        outcome=outcome.as_dict() if outcome else None,
        notes=list(notes),
    )
    live.results.append(result)
    print(
        f"\n{drill.name}: {drill.alert} after {result.measured:.1f} s "
        f"(fast minimum {fast.formula()}), receivers {', '.join(result.receivers)}"
        + (f", resolved {result.resolved_after:.1f} s after the fix" if resolved else "")
        + (f"; {outcome.as_dict()}" if outcome else "")
    )
    # `for` is honoured: nothing can notify before the rule has been true that long.
    assert result.measured >= fast.for_, result
    return result


def routes_agree(live: System, drill: Drill) -> None:
    """The receivers the drill expects are exactly those the generated routes give, and the
    production routes give the same."""
    assert set(live.fast.receivers(drill.alert, drill.job)) == drill.receivers
    assert set(live.production.receivers(drill.alert, drill.job)) == drill.receivers


def quiet(live: System, *alertnames: str, timeout: float = 30) -> None:
    """Wait until none of ``alertnames`` is pending or firing in Prometheus."""

    def none_active() -> bool:
        try:
            alerts = live.prometheus_alerts()
        except OSError:
            return False  # not an answer: no proof that they are inactive
        return not [a for a in alerts if a["labels"].get("alertname") in alertnames]

    try:
        wait_until(none_active, timeout, f"{', '.join(alertnames)} inactive", interval=0.5)
    except TimeoutError:
        pytest.fail(f"still active: {alertnames}\n{live.diagnostics(iso(live.started_at))}")


def open_incidents(live: System) -> list[incidents.Incident]:
    return [i for i in incidents.incidents(live.records()) if i.open]


def critical_firing(live: System) -> list[str]:
    try:
        alerts = live.prometheus_alerts()
    except OSError:
        return ["(Prometheus did not answer)"]
    return [
        a["labels"]["alertname"]
        for a in alerts
        if a["labels"].get("severity") == "critical" and a.get("state") in ("firing", "pending")
    ]


def calm(live: System, timeout: float = SETTLE_TIMEOUT) -> str:
    """Wait until no PagerDuty incident is open and no critical alert is pending or firing (a
    drill starts, and a drill's observation ends, there); the time it was reached."""
    try:
        wait_until(
            lambda: not open_incidents(live) and not critical_firing(live),
            timeout,
            "no open incident and no critical alert",
            interval=0.5,
        )
    except TimeoutError:
        pytest.fail(
            f"open incidents {[i.as_dict() for i in open_incidents(live)]}, critical alerts "
            f"{critical_firing(live)}\n{live.diagnostics(iso(live.started_at))}"
        )
    return iso(utc_now())


def measure(live: System, drill: Drill, fault_at: str, cleared_at: str) -> incidents.DrillOutcome:
    """What people got from the drill, from the fault until everything settled: exactly the
    expected pages, one resolve per page after the fix, no resolve while the fault was on and no
    flap."""
    until = calm(live)
    outcome = incidents.summarize(
        live.records(fault_at), alert=drill.alert, fault_at=fault_at, cleared_at=cleared_at,
        until=until,
    )  # fmt: skip
    detail = f"{drill.name}: {outcome}\n{live.diagnostics(fault_at)}"
    # What was notified as firing (a RESOLVED notification of a PagerDuty incident also lists
    # alerts resolved earlier: Prometheus re-sends a resolved alert for 15 minutes).
    notified = {
        name
        for record in live.records(fault_at, until)
        if record.get("channel") != "deadmansswitch" and record.get("status") == "firing"
        for name in record.get("alertnames") or []
    }
    assert notified - {drill.alert} - drill.also - MACHINE_ALERTS == set(), detail
    assert outcome.pages == drill.pages, detail
    assert outcome.resolves == drill.pages, detail
    assert outcome.false_resolves == 0, detail
    assert outcome.flaps == 0, detail
    return outcome


def set_drill(live: System, **switches: Any) -> str:
    """Write the drill file (the api's workers follow it within a second); the time written."""
    drills.write(live.stack.drills_file, switches)
    return iso(utc_now())


# -- The system up ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live(system: System) -> System:
    """Every scrape target up, the first Watchdog at the dead man's switch."""
    assert system.stack.generated is not None
    jobs = timing.load(system.stack.generated.prometheus_config)["scrape_configs"]
    expected = {job["job_name"] for job in jobs}
    # Every component runs here (PostgreSQL and Redis included): only a web tier may be missing.
    assert {API_JOB, "postgresql", "redis", "node-exporter", "prometheus"} <= expected

    def targets_up() -> bool:
        try:
            targets = system.prometheus("targets", state="active")["activeTargets"]
        except OSError:
            return False
        health = {t["labels"]["job"]: t["health"] for t in targets}
        return set(health) == expected and set(health.values()) == {"up"}

    try:
        wait_until(targets_up, 40, "every target up", interval=0.5)
        wait_until(
            lambda: system.records(channel="deadmansswitch", alertname="Watchdog"), 40, "Watchdog"
        )
    except TimeoutError as exc:
        pytest.fail(f"{exc}\n{system.diagnostics()}")
    return system


@pytest.fixture(scope="module")
def keeper(live: System) -> Keeper:
    """Characters stored before the drills, which every drill must leave in place."""
    keeper = Keeper.create(live.api, 3)
    assert sorted(keeper.listed()) == sorted(keeper.ids)
    return keeper


def test_the_system_runs_the_repository_monitoring_and_the_watchdog_arrives(live: System) -> None:
    """Nothing but the Watchdog reaches anyone on a healthy start (TargetMissing, ServiceDown
    ... would mean a job or a component is wrong)."""
    assert live.stack.generated is not None
    assert set(live.stack.generated.left_out_jobs) <= {"react-frontend"}  # no web tier yet
    unexpected = [
        r
        for r in live.records()
        if r["channel"] != "deadmansswitch" and not set(r.get("alertnames") or []) <= MACHINE_ALERTS
    ]
    assert unexpected == [], live.diagnostics()
    (watchdog,) = live.records(channel="deadmansswitch")[:1]
    assert watchdog["receiver"] == "deadmansswitch"
    assert watchdog["title"] == live.fast.summary("Watchdog", None)
    assert watchdog["payload"]["commonLabels"]["environment"] == "production"


# -- 1. The api killed --------------------------------------------------------------------------
API_KILLED = Drill("api killed", "ServiceDown", API_JOB, frozenset(CRITICAL))


def test_api_killed_pages_posts_and_mails_then_resolves(live: System, keeper: Keeper) -> None:
    drill = API_KILLED
    routes_agree(live, drill)
    quiet(live, drill.alert)
    calm(live)
    workers = live.stack.pids("api")
    fault_at = iso(utc_now())
    live.stack.kill("api")  # SIGKILL to the master and its workers
    assert not live.stack.running("api") and len(workers) >= 3
    try:
        fired = expect(live, drill, "firing", fault_at, NOTIFY_TIMEOUT)
        when = stages(live, drill, fault_at)
    finally:
        cleared_at = iso(utc_now())
        live.stack.restart("api")
    check_rendered(live, drill, fired)
    pagerduty = fired["pagerduty-critical"]["payload"]
    assert pagerduty["payload"]["summary"].endswith("Service fastapi-backend is down")
    assert pagerduty["payload"]["component"] == API_JOB
    resolved = expect(live, drill, "resolved", cleared_at, RESOLVE_TIMEOUT, fired)
    check_rendered(live, drill, resolved)
    outcome = measure(live, drill, fault_at, cleared_at)
    record_result(live, drill, fault_at, fired, cleared_at, resolved, when=when, outcome=outcome)
    assert set(keeper.ids) <= set(keeper.listed())


# -- 2. PostgreSQL stopped -----------------------------------------------------------------------
#: The budget the outage spent may open a ticket (warning) once it is over; never a page.
POSTGRESQL_DOWN = Drill(
    "PostgreSQL stopped", "PostgreSQLDown", "postgresql", frozenset(CRITICAL),
    also=frozenset({"ApiErrorBudgetBurn", "ApiLatencyBudgetBurn"}),
)  # fmt: skip


def test_postgresql_stopped_pages_and_silences_the_api_symptoms(
    live: System, keeper: Keeper
) -> None:
    drill = POSTGRESQL_DOWN
    routes_agree(live, drill)
    quiet(live, drill.alert, *SYMPTOMS[:2])
    calm(live)
    before = keeper.listed()
    assert set(keeper.ids) <= set(before)

    fault_at = iso(utc_now())
    live.postgres.stop_fast()
    try:
        fired = expect(live, drill, "firing", fault_at, NOTIFY_TIMEOUT)
        when = stages(live, drill, fault_at)
        check_rendered(live, drill, fired)

        # The api says which dependency it lacks.
        status, body = live.http("/readyz")
        assert status == 503, body
        assert body["checks"]["database"].startswith("failed"), body
        assert body["checks"]["redis"] == "ok", body
        assert "database" in body["detail"], body

        # Users keep coming: their requests fail, the api's symptoms fire in Prometheus, and
        # Alertmanager holds them back (inhibited by PostgreSQLDown) instead of notifying.
        with live.traffic(users=6, seed=2) as traffic:
            try:
                wait_until(
                    lambda: live.firing_in_prometheus("HighErrorRate"), 40, "HighErrorRate firing"
                )
            except TimeoutError:
                pytest.fail(f"no HighErrorRate while PostgreSQL is down\n{live.diagnostics()}")

            def inhibited() -> list[dict[str, Any]] | None:
                alerts = live.alertmanager_alerts(silenced="false", inhibited="true")
                held = [a for a in alerts if a["labels"].get("alertname") in SYMPTOMS]
                names = {a["labels"]["alertname"] for a in held}
                return held if "HighErrorRate" in names else None

            held = wait_until(inhibited, 10, "HighErrorRate in Alertmanager")
        summary = traffic.stop()
        assert summary.errors > 0, summary.verdict()
        source = {
            a["fingerprint"]
            for a in live.alertmanager_alerts()
            if a["labels"].get("alertname") == drill.alert
        }
        # Each is suppressed by PostgreSQLDown, or (a warning burn-rate alert) by its critical
        # twin, itself suppressed by PostgreSQLDown: Alertmanager names the first rule's source.
        held_fingerprints = {a["fingerprint"] for a in held}
        for alert in held:
            assert alert["status"]["state"] == "suppressed", alert
            by = set(alert["status"]["inhibitedBy"])
            assert by and by <= source | held_fingerprints, alert
            if alert["labels"]["alertname"] == "HighErrorRate":
                assert by <= source, alert
        # Before PostgreSQL comes back, the symptoms fed by this traffic stop: were they still
        # firing then, they would be notified as soon as the inhibition ends.
        quiet(live, "HighErrorRate", "HighResponseTime")
    finally:
        cleared_at = iso(utc_now())
        live.postgres.start()

    leaked = [r for r in live.records(fault_at, cleared_at) if set(r["alertnames"]) & set(SYMPTOMS)]
    assert leaked == [], f"inhibited symptoms notified:\n{live.diagnostics(fault_at)}"

    resolved = expect(live, drill, "resolved", cleared_at, RESOLVE_TIMEOUT, fired)
    check_rendered(live, drill, resolved)
    try:
        wait_until(lambda: live.http("/readyz")[0] == 200, 30, "/readyz 200")
    except TimeoutError:
        pytest.fail(f"/readyz after PostgreSQL restarted: {live.http('/readyz')}")
    after = keeper.listed()
    assert set(before) <= set(after), "characters lost with the PostgreSQL restart"
    inhibited_names = {a["labels"]["alertname"] for a in held}
    # One page for the outage: not a second one for the api's symptoms, during it (inhibited
    # by PostgreSQLDown) or after it (the budget pages, held back by DependencyRecentlyDown).
    outcome = measure(live, drill, fault_at, cleared_at)
    record_result(
        live,
        drill,
        fault_at,
        fired,
        cleared_at,
        resolved,
        notes=(f"inhibited while it fired: {', '.join(sorted(inhibited_names))}",),
        when=when,
        outcome=outcome,
    )


# -- 3.-6. The drill switches ---------------------------------------------------------------------
def switch_drill(
    live: System, drill: Drill, switches: dict[str, Any], traffic: dict[str, Any]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Under load: switch the drill on, wait for every receiver's notification (and for the
    page of a paging fault), switch it off, wait for every receiver's "resolved" and for calm.
    The traffic keeps flowing until then."""
    routes_agree(live, drill)
    quiet(live, drill.alert)
    calm(live)
    with live.traffic(**traffic):
        time.sleep(3)  # the users are signed in and working when the fault comes
        fault_at = set_drill(live, **switches)
        try:
            fired = expect(live, drill, "firing", fault_at, NOTIFY_TIMEOUT)
            when = stages(live, drill, fault_at)
            if drill.pages:
                try:
                    wait_until(
                        lambda: incidents.incidents(live.records(fault_at)),
                        NOTIFY_TIMEOUT,
                        f"{drill.name}: a page",
                    )
                except TimeoutError:
                    pytest.fail(f"{drill.name}: no page\n{live.diagnostics(fault_at)}")
            # Its changes annotation names the drill, in the notification.
            slack = fired.get("team-slack")
            if slack is not None:
                switch = next(iter(switches))
                changes = re.search(r"^\*Recent changes:\* (.*)$", slack["text"], re.M)
                assert changes and f"drill {switch}" in changes.group(1), slack["text"]
        finally:
            cleared_at = set_drill(live)
        resolved = expect(live, drill, "resolved", cleared_at, RESOLVE_TIMEOUT, fired)
        outcome = measure(live, drill, fault_at, cleared_at)
    check_rendered(live, drill, fired)
    check_rendered(live, drill, resolved)
    record_result(live, drill, fault_at, fired, cleared_at, resolved, when=when, outcome=outcome)
    return fired, resolved


#: The availability budget burns too: inhibited while HighErrorRate fires, it may notify (as
#: part of the same PagerDuty incident) once HighErrorRate's keep_firing_for is over.
ERRORS = Drill(
    "10 % errors", "HighErrorRate", API_JOB, frozenset(CRITICAL),
    also=frozenset({"ApiErrorBudgetBurn"}),
)  # fmt: skip
#: HighResponseTime is a ticket; every user request slow burns the latency budget 100 times too
#: fast: ApiLatencyBudgetBurn pages, once.
LATENCY = Drill(
    "3 s latency", "HighResponseTime", API_JOB, frozenset(WARNING),
    also=frozenset({"ApiLatencyBudgetBurn"}),
)  # fmt: skip
#: The cause (a ticket) and no page: the assistant's 503s are not the api's errors.
AI_FAILING = Drill("AI provider failing", "AIServiceDown", API_JOB, frozenset(WARNING), pages=0)
WIZARD_CLOCK = Drill("wizard +400 s", "CharacterCreationSlow", API_JOB, frozenset(WARNING), pages=0)
#: Load with one activity only (the others' weights 0).
ONLY = {name: 0.0 for name in ("create", "view", "edit", "level_up", "lookup", "ask", "export")}


def test_error_rate_pages_high_error_rate(live: System) -> None:
    switch_drill(live, ERRORS, {"error_rate": 0.1}, {"users": 6, "seed": 3})


def test_latency_raises_high_response_time_and_the_latency_budget_pages_once(
    live: System,
) -> None:
    fired, resolved = switch_drill(live, LATENCY, {"latency_seconds": 3.0}, {"users": 6, "seed": 4})
    since = min(r["received_at"] for r in fired.values())
    until = max(r["received_at"] for r in resolved.values())
    paged = live.records(since, until, alertname=LATENCY.alert, channel="pagerduty")
    assert paged == [], "a warning must not page"
    (page,) = incidents.incidents(live.records(since, until))
    assert page.alertnames == ["ApiLatencyBudgetBurn"], page


def test_failing_ai_provider_raises_ai_service_down_and_pages_nobody(live: System) -> None:
    # Questions only: each failed question (503) ends the visit; the user signs in again and
    # asks again, well over the rule's 5 questions in its (scaled) 5 s window.
    switch_drill(
        live, AI_FAILING, {"ai_failing": True}, {"users": 6, "seed": 5, "mix": {**ONLY, "ask": 1}}
    )


def test_slow_wizard_clock_raises_character_creation_slow(live: System) -> None:
    # The wizard only: a character finalized every second or so keeps the p95 over the
    # (scaled) 5 s window defined.
    switch_drill(
        live,
        WIZARD_CLOCK,
        {"wizard_clock_offset_seconds": 400},
        {"users": 4, "seed": 6, "mix": {**ONLY, "create": 1}},
    )


# -- The dead man's switch ------------------------------------------------------------------------
def test_watchdog_kept_reaching_the_dead_mans_switch_throughout(live: System) -> None:
    records = live.records(iso(live.started_at), channel="deadmansswitch")
    assert records, live.diagnostics()
    assert {r["receiver"] for r in records} == {"deadmansswitch"}
    assert {tuple(r["alertnames"]) for r in records} == {("Watchdog",)}
    # Nobody else receives the Watchdog.
    assert not [r for r in live.records(alertname="Watchdog") if r["channel"] != "deadmansswitch"]
    times = [parse_iso(r["received_at"]) for r in records]
    now = utc_now()
    gaps = [(b - a).total_seconds() for a, b in zip(times, [*times[1:], now], strict=True)]
    (route,) = timing.routes(live.fast.alertmanager, live.fast.labels("Watchdog", None))
    period = timing.seconds(route["group_interval"]) + timing.seconds(route["repeat_interval"])
    span = (now - times[0]).total_seconds()
    print(
        f"\nWatchdog: {len(records)} notifications over {span:.0f} s, every "
        f"{span / len(records):.1f} s on average, longest gap {max(gaps):.1f} s "
        f"(route: group_interval + repeat_interval = {period:g} s)"
    )
    # It kept arriving through every drill (the api killed, PostgreSQL stopped, the load):
    # never silent for more than a few periods, which a dead man's switch would report.
    assert max(gaps) <= 3 * period + 2, gaps
    assert len(records) >= span / (2 * period), (len(records), span)


# -- Dashboards have data -------------------------------------------------------------------------
#: Panel queries that cannot have data here, and why. Keep this short and justified.
NO_DATA_HERE = {
    (
        "hero-foundry-performance.json",
        "panel 'Export failures by format' (A)",
    ): "export_failure_total{format} gets its series at the first failed export (the app does "
    "not initialise the format labels); no export fails here and no drill breaks a renderer",
}


def grafana_values(model: dict[str, Any]) -> dict[str, str]:
    """Each template variable's current value as Grafana sends it: "All" is its allValue."""
    values = {}
    for variable in (model.get("templating") or {}).get("list") or []:
        current = (variable.get("current") or {}).get("value")
        if current in ("$__all", ["$__all"]) or current is None:
            values[variable["name"]] = variable.get("allValue") or ".+"
        else:
            values[variable["name"]] = current if isinstance(current, str) else "|".join(current)
    return values


def test_every_dashboard_panel_has_data_after_a_load_run(live: System) -> None:
    """A load run that reaches every activity (creation, level-ups, AI, exports, imports,
    telemetry; 5xx errors from a 3 % error drill in its first seconds), then every panel query
    of every dashboard, Grafana's variables substituted, as an instant query on the live
    Prometheus while the load still runs: each returns at least one series."""
    started = time.monotonic()
    with live.traffic(users=8, seed=7, think_time=0.1, mix={"import": 1}) as traffic:
        try:
            set_drill(live, error_rate=0.03)
            time.sleep(6)
        finally:
            set_drill(live)
        time.sleep(24)
        # $__rate_interval (and $__range): the load run so far, as one Grafana point would
        # cover it; the recording rules' windows are the fast overlay's (5m -> 5s).
        window = f"{math.ceil(time.monotonic() - started)}s"
        empty: list[str] = []
        checked = 0
        with mock.patch.dict(promql.BUILTIN, {"__rate_interval": window, "__range": window}):
            for name, text in sorted(dashboards.render_all().items()):
                model = json.loads(text)
                values = grafana_values(model)
                for query in promql.queries(name, model):
                    if query.where.startswith("annotation"):
                        continue  # a range query: checked below
                    checked += 1
                    result = live.query(promql.to_promql(query.expr, values))
                    if not result and (name, query.where) not in NO_DATA_HERE:
                        empty.append(
                            f"{name} {query.where}: {promql.to_promql(query.expr, values)}"
                        )
    summary = traffic.stop()
    outcomes = summary.outcomes
    print(f"\ndashboards: {checked} queries, {summary.requests} requests: {dict(outcomes)}")
    for what in ("characters_created", "levels_gained", "questions", "imports", "edits"):
        assert outcomes[what] > 0, (what, dict(outcomes))
    assert empty == [], "panels without data:\n" + "\n".join(empty)
    # The annotations (range queries in Grafana) over the session: "Firing alerts" marks the
    # alert of every drill that ran before (none when this test runs alone), "Drills" the
    # error drill of this test, "Deploys" the start of this api's version and commit.
    drilled = {result.alert for result in live.results}
    expected = {
        "Firing alerts": ("alertname", drilled),
        "Drills": ("drill", {"error_rate"}),
        "Deploys": ("commit", {build.commit()}),
    }
    checked_annotations = set()
    for name, text in sorted(dashboards.render_all().items()):
        model = json.loads(text)
        for query in promql.queries(name, model):
            title = next(
                (t for t in expected if query.where.startswith("annotation") and t in query.where),
                None,
            )
            if title is None:
                continue
            series = live.query_range(
                promql.to_promql(query.expr, grafana_values(model)),
                live.started_at.timestamp(),
                time.time(),
                "1s",
            )
            label, wanted = expected[title]
            marked = {s["metric"].get(label) for s in series}
            assert wanted <= marked, (name, query.where, wanted - marked)
            checked_annotations.add(title)
    assert checked_annotations == set(expected)
    # A panel listed as having no data here really has none (else take it off the list).
    for (name, where), reason in NO_DATA_HERE.items():
        model = json.loads(dashboards.render_all()[name])
        (query,) = [q for q in promql.queries(name, model) if q.where == where]
        assert not live.query(promql.to_promql(query.expr, grafana_values(model))), reason


# -- The error runbook during an incident --------------------------------------------------------


def test_the_error_runbook_s_log_query_finds_the_failing_requests(live: System) -> None:
    """HighErrorRate's Diagnosis, as an engineer runs it locally during an incident: with
    every api request failing (drill ``error_rate`` 1), the failing requests' ids, as their
    clients got them in ``X-Request-ID``, and their route are in what its log query prints.
    Last of the module: its errors raise alerts that no drill after it must meet."""
    runbook = runbooks.load(ROOT / "monitoring" / "runbooks" / "HighErrorRate.md")
    (diagnosis,) = [s for s in runbook.sections if s.name == "Diagnosis"]
    blocks = [b for b in diagnosis.blocks if b.applies_to("local")]
    assert any("$LOGS" in block.code for block in blocks), "the local Diagnosis reads the log"
    route = "/api/srd/alignments"
    drill_file = live.stack.drills_file
    before = drill_file.read_bytes() if drill_file.exists() else None
    failed: dict[str, int] = {}
    try:
        drills.write(drill_file, {"error_rate": 1.0})

        def request_ids() -> dict[str, int]:
            request = urllib.request.Request(live.api + route)
            try:
                with urllib.request.urlopen(request, timeout=10):
                    pass  # answered: the drill is not in force in this worker yet
            except urllib.error.HTTPError as error:
                if error.code == 500:
                    failed[error.headers["X-Request-ID"]] = error.code
            return failed if len(failed) >= 3 else {}

        wait_until(request_ids, 30, "three injected 500s", interval=0.2)
    finally:
        if before is None:
            drill_file.unlink(missing_ok=True)
        else:
            drill_file.write_bytes(before)
    # The access records are written once the responses are sent: wait for them in the file.
    log = live.stack.api_log_file
    wait_until(lambda: all(rid in log.read_text() for rid in failed), 30, "the access records")
    output = ""
    for block in blocks:
        run = runbooks.run_local_block(
            runbook, block, root=ROOT, state_dir=live.stack.state_dir, timeout=60
        )
        assert run.ok, run.report(runbook.file)
        output += run.stdout
    for request_id in failed:
        lines = [line for line in output.splitlines() if request_id in line]
        assert lines, f"request {request_id} not found by the log query:\n{output[-3000:]}"
        assert any(route in line and "500" in line for line in lines), lines
