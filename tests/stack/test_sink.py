"""The notification sink (hero_foundry.stack.sink): Slack, PagerDuty and webhook payloads over
HTTP and e-mail over SMTP become the sink's records (JSON lines, docs/local-stack.md); a real
Alertmanager on the generated configuration reaches every receiver through it; ``sink`` runs
alone and stops on SIGINT."""

from __future__ import annotations

import json
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from hero_foundry.processes import stop
from hero_foundry.stack import config
from hero_foundry.stack.config import Ports
from hero_foundry.stack.sink import Record, Sink, describe, read_records
from tests.conftest import unavailable

REPO = Path(__file__).resolve().parents[2]
KEYS = {"received_at", "channel", "receiver", "status", "alertnames", "title", "text", "payload"}


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Sink]:
    ports = Ports.free()
    with Sink(
        tmp_path / "notifications.jsonl",
        port=ports.sink,
        smtp_port=ports.smtp,
        email_receivers={"team@example.com": "team-email"},
    ) as server:
        assert server.smtp_error is None, server.smtp_error
        yield server


def post(url: str, body: Any, raw: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url,
        data=raw if raw is not None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


# Payloads as Alertmanager 0.25 sends them with monitoring/alertmanager's templates (abridged).
SLACK = {
    "channel": "#hero-foundry-alerts",
    "username": "Alertmanager",
    "attachments": [
        {
            "title": "[FIRING:1] critical ServiceDown (fastapi-backend)",
            "text": "*Firing:* Service fastapi-backend is down\n*Service:* `fastapi-backend`",
            "color": "danger",
            "fallback": "[FIRING:1] critical ServiceDown (fastapi-backend)",
        }
    ],
}
PAGERDUTY = {
    "routing_key": "0123456789abcdef0123456789abcdef",
    "dedup_key": "abc",
    "event_action": "resolve",
    "payload": {
        "summary": "[RESOLVED:1] critical ServiceDown (fastapi-backend): Service fastapi-backend"
        " is down",
        "source": "Prometheus AlertManager",
        "severity": "critical",
        "class": "ServiceDown",
        "custom_details": {"summary": "Service fastapi-backend is down", "runbook": "https://x"},
    },
}
WEBHOOK = {
    "receiver": "deadmansswitch",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "Watchdog", "severity": "none"},
            "annotations": {
                "summary": "The alerting pipeline is alive",
                "description": "This alert always fires.",
            },
        }
    ],
    "commonAnnotations": {"summary": "The alerting pipeline is alive"},
}


def test_http_notifications_become_records(sink: Sink) -> None:
    assert post(f"{sink.url}/slack?receiver=team-slack", SLACK) == (200, b"ok")
    status, body = post(f"{sink.url}/pagerduty/v2/enqueue?receiver=pagerduty-critical", PAGERDUTY)
    assert status == 202 and json.loads(body)["status"] == "success"
    assert post(f"{sink.url}/deadmansswitch", WEBHOOK)[0] == 200

    slack, pagerduty, deadmansswitch = sink.records
    assert slack == {
        "received_at": slack["received_at"],
        "channel": "slack",
        "receiver": "team-slack",
        "status": "firing",
        "alertnames": ["ServiceDown"],
        "title": "[FIRING:1] critical ServiceDown (fastapi-backend)",
        "text": SLACK["attachments"][0]["text"],
        "payload": SLACK,
    }
    assert datetime.fromisoformat(slack["received_at"]).tzinfo == UTC
    assert pagerduty["channel"] == "pagerduty"
    assert pagerduty["receiver"] == "pagerduty-critical"
    assert pagerduty["status"] == "resolved"  # event_action resolve
    assert pagerduty["alertnames"] == ["ServiceDown"]
    assert pagerduty["title"].startswith("[RESOLVED:1] critical ServiceDown")
    assert "runbook: https://x" in pagerduty["text"]
    assert deadmansswitch["channel"] == "deadmansswitch"
    assert deadmansswitch["receiver"] == "deadmansswitch"  # from the payload
    assert deadmansswitch["alertnames"] == ["Watchdog"]
    assert deadmansswitch["title"] == "The alerting pipeline is alive"
    assert deadmansswitch["text"] == "This alert always fires."

    # One JSON line each, in the file; GET /notifications lists them, filtered.
    assert read_records(sink.file) == sink.records
    assert all(set(record) == KEYS for record in sink.records)
    assert get(f"{sink.url}/notifications") == sink.records
    assert get(f"{sink.url}/notifications?channel=slack") == [slack]
    assert get(f"{sink.url}/notifications?alertname=Watchdog&status=firing") == [deadmansswitch]
    assert get(f"{sink.url}/notifications?receiver=team-email") == []


def test_incidents_are_pagerduty_s_view_of_the_triggers_and_resolves(sink: Sink) -> None:
    """Two triggers of one dedup key are one incident (one page); its resolve closes it; a
    trigger after that opens a second one."""

    def event(action: str, key: str = "k-api") -> dict[str, Any]:
        return {
            **PAGERDUTY,
            "event_action": action,
            "dedup_key": key,
            "payload": {**PAGERDUTY["payload"], "component": "fastapi-backend"},
        }

    for action in ("trigger", "trigger", "resolve", "trigger"):
        status, _ = post(
            f"{sink.url}/pagerduty/v2/enqueue?receiver=pagerduty-critical", event(action)
        )
        assert status == 202
    first, second = get(f"{sink.url}/incidents")
    assert len(first["triggers"]) == 2 and first["resolved_at"] and not first["open"]
    assert second["open"] and len(second["triggers"]) == 1
    assert first["dedup_key"] == second["dedup_key"] == "k-api"
    assert first["component"] == "fastapi-backend"


def test_bad_requests_are_refused_and_not_recorded(sink: Sink) -> None:
    assert post(f"{sink.url}/slack", None, raw=b"{not json")[0] == 400
    assert post(f"{sink.url}/slack", None, raw=b"[1, 2]")[0] == 400
    assert post(f"{sink.url}/elsewhere", SLACK)[0] == 404
    assert sink.records == [] and not sink.file.exists()


def mail(subject: str, body: str, to: str = "team@example.com") -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "alerts@herofoundry.com"
    message["To"] = to
    message.set_content(body)
    message.add_alternative(f"<p>{body}</p>", subtype="html")
    return message


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_an_email_with_smtp_auth_becomes_a_record(sink: Sink, mechanism: str) -> None:
    subject = "[FIRING:1] warning HighCPUUsage (node-exporter): CPU usage is high"
    with smtplib.SMTP("127.0.0.1", sink.smtp_port, timeout=5) as client:
        client.ehlo()
        assert mechanism in client.esmtp_features["auth"]  # offered without STARTTLS
        client.user, client.password = "alerts@herofoundry.com", "secret"
        client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
        client.send_message(mail(subject, "Warning: nobody was paged."))
    assert sink.wait_for(lambda records: len(records) == 1, timeout=5)
    (record,) = sink.records
    assert set(record) == KEYS
    assert record["channel"] == "email"
    assert record["receiver"] == "team-email"  # from the recipient address
    assert record["status"] == "firing"
    assert record["alertnames"] == ["HighCPUUsage"]
    assert record["title"] == subject
    assert record["text"].strip() == "Warning: nobody was paged."
    assert record["payload"]["headers"]["Subject"] == subject
    assert record["payload"]["headers"]["To"] == "team@example.com"
    assert record["payload"]["text"] == record["text"]
    assert record["payload"]["envelope"]["auth_login"] == "alerts@herofoundry.com"
    assert read_records(sink.file) == [record]


def test_describe_prints_time_channel_receiver_status_names_and_title() -> None:
    record: Record = {
        "received_at": "2026-11-26T17:46:47.123Z",
        "channel": "pagerduty",
        "receiver": "pagerduty-critical",
        "status": "resolved",
        "alertnames": ["ServiceDown"],
        "title": "[RESOLVED:1] critical ServiceDown (fastapi-backend): down",
    }
    line = describe(record).plain
    for part in ("17:46:47", "pagerduty", "pagerduty-critical", "RESOLVED", "ServiceDown"):
        assert part in line
    assert line.endswith("[RESOLVED:1] critical ServiceDown (fastapi-backend): down")


# -- A real Alertmanager on the generated configuration ---------------------------------------
ENV = "production"


def alert(name: str, severity: str, service: str, ends: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "labels": {
            "alertname": name,
            "severity": severity,
            "service": service,
            "environment": ENV,
        },
        "annotations": {"summary": f"{name} summary", "description": f"{name} description"},
    }
    if ends:
        body["endsAt"] = ends
    return body


def test_alertmanager_reaches_every_receiver_through_the_sink(tmp_path: Path) -> None:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        unavailable("prometheus-alertmanager", "install the Debian package prometheus-alertmanager")
    ports = Ports.free()
    generated = config.generate(
        REPO, tmp_path, ports=ports, components={"sink", "api", "alertmanager"}, factor=60
    )
    url = f"http://127.0.0.1:{ports.alertmanager}"
    with (
        Sink(
            tmp_path / "notifications.jsonl",
            port=ports.sink,
            smtp_port=ports.smtp,
            email_receivers=generated.email_receivers,
        ) as sink,
        (tmp_path / "alertmanager.log").open("w") as log,
    ):
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={generated.alertmanager_config.name}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{ports.alertmanager}",
                "--cluster.listen-address=",
            ],
            cwd=generated.alertmanager_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    urllib.request.urlopen(f"{url}/-/ready", timeout=1).close()
                    break
                except OSError:
                    assert process.poll() is None and time.monotonic() < deadline, (
                        tmp_path / "alertmanager.log"
                    ).read_text()
                    time.sleep(0.1)
            firing = [
                alert("ServiceDown", "critical", "fastapi-backend"),
                alert("HighCPUUsage", "warning", "node-exporter"),
                alert("Watchdog", "none", "prometheus"),
            ]
            assert post(f"{url}/api/v2/alerts", firing)[0] == 200

            expected = {
                ("pagerduty", "pagerduty-critical", "ServiceDown"),
                ("slack", "team-slack", "ServiceDown"),
                ("email", "team-email", "ServiceDown"),
                ("slack", "team-slack", "HighCPUUsage"),
                ("email", "team-email", "HighCPUUsage"),
                ("deadmansswitch", "deadmansswitch", "Watchdog"),
            }

            def received(status: str) -> set[tuple[str, str, str]]:
                return {
                    (r["channel"], r["receiver"], name)
                    for r in sink.records
                    if r["status"] == status
                    for name in r["alertnames"]
                }

            assert sink.wait_for(lambda _: received("firing") >= expected, timeout=20), (
                received("firing"),
                (tmp_path / "alertmanager.log").read_text()[-3000:],
            )
            assert ("pagerduty", "pagerduty-critical", "HighCPUUsage") not in received("firing")
            titles = {(r["channel"], r["title"]) for r in sink.records}
            assert (
                "slack",
                f"[FIRING:1] critical ServiceDown (fastapi-backend) in {ENV}",
            ) in titles
            assert (
                "email",
                f"[FIRING:1] warning HighCPUUsage (node-exporter) in {ENV}: HighCPUUsage summary",
            ) in titles
            mail_record = next(r for r in sink.records if r["channel"] == "email")
            assert "Alertmanager: " in mail_record["text"]  # the rendered email.text template

            # Resolved: every receiver that was sent the firing alert hears it is over.
            now = datetime.now(UTC).isoformat()
            resolved = [alert("ServiceDown", "critical", "fastapi-backend", ends=now)]
            assert post(f"{url}/api/v2/alerts", resolved)[0] == 200
            want = {e for e in expected if e[2] == "ServiceDown"}
            assert sink.wait_for(lambda _: received("resolved") >= want, timeout=20), received(
                "resolved"
            )
        finally:
            stop(process)


# -- The runbooks ----------------------------------------------------------------------------------
RUNBOOKS = REPO / "monitoring" / "runbooks"


def fetch(url: str, path: str) -> tuple[int, str, str]:
    """GET ``path`` exactly as written (no normalisation of ``..``): status, type, body."""
    import http.client
    from urllib.parse import urlsplit

    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read().decode()
        return response.status, response.getheader("Content-Type") or "", body
    finally:
        connection.close()


def test_the_sink_serves_every_runbook_as_html(tmp_path: Path) -> None:
    (tmp_path / "secret.md").write_text("# not a runbook")
    pages = sorted(p.name for p in RUNBOOKS.glob("*.md"))
    assert "HighErrorRate.md" in pages and "README.md" in pages
    with Sink(
        tmp_path / "n.jsonl", port=Ports.free().sink, smtp_port=None, runbooks=RUNBOOKS
    ) as sink:
        status, kind, index = fetch(sink.url, "/runbooks/")
        assert (status, kind) == (200, "text/html; charset=utf-8")
        for name in pages:
            assert f'<a href="{name}">' in index, name
        # Every page renders: the local alerts' runbook_url is <sink>/runbooks/<Alert>.md.
        for name in pages:
            status, kind, page = fetch(sink.url, f"/runbooks/{name}")
            assert (status, kind) == (200, "text/html; charset=utf-8"), name
            assert page.startswith("<!doctype html>") and '<a href="/runbooks/">' in page
        status, _, page = fetch(sink.url, "/runbooks/HighErrorRate.md")
        assert "<h1>HighErrorRate</h1>" in page and "<h2>Prerequisites</h2>" in page
        assert "<h2>Verify recovery</h2>" in page
        for environment in ("local", "compose", "kubernetes", "every environment"):
            assert f'<div class="environment">{environment}</div>' in page, environment
        assert "&lt;state&gt;/logs/fastapi/hero-foundry.log" in page  # markup in text escaped
        assert "<table>" in fetch(sink.url, "/runbooks/ApiErrorBudgetBurn.md")[2]
        assert '<a href="PostgreSQLDown.md">' in fetch(sink.url, "/runbooks/README.md")[2]
        # Only the directory's pages: nothing else, no way out of it.
        for path in (
            "/runbooks/NoSuchAlert.md",
            "/runbooks/HighErrorRate",
            "/runbooks/../secret.md",
            "/runbooks/..%2fsecret.md",
            "/runbooks/%2e%2e/README.md",
            "/runbooks/sub/HighErrorRate.md",
            "/runbooks//etc/passwd",
            "/runbooks/.md",
        ):
            status, kind, body = fetch(sink.url, path)
            assert (status, kind) == (404, "text/html; charset=utf-8"), path
            assert "not a runbook" not in body
        status, _, _ = fetch(sink.url, "/runbooks")
        assert status == 301
        assert urllib.request.urlopen(f"{sink.url}/runbooks", timeout=5).url.endswith("/runbooks/")
    with Sink(tmp_path / "n.jsonl", port=Ports.free().sink, smtp_port=None) as bare:
        status, _, body = fetch(bare.url, "/runbooks/HighErrorRate.md")
        assert status == 404 and "without --runbooks" in body


# -- `sink` alone --------------------------------------------------------------------------------
def test_the_sink_command_prints_stores_and_stops_on_sigint(tmp_path: Path) -> None:
    ports = Ports.free()
    file = tmp_path / "notifications.jsonl"
    command = [sys.executable, "-m", "hero_foundry.stack", "sink", "--port", str(ports.sink)]
    command += ["--smtp-port", str(ports.smtp), "--file", str(file), "--runbooks", str(RUNBOOKS)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{ports.sink}/healthz", timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert post(f"http://127.0.0.1:{ports.sink}/slack?receiver=team-slack", SLACK)[0] == 200
        assert fetch(f"http://127.0.0.1:{ports.sink}", "/runbooks/ServiceDown.md")[0] == 200
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output.decode()
    text = output.decode()
    assert "slack" in text and "team-slack" in text and "FIRING" in text
    assert "[FIRING:1] critical ServiceDown (fastapi-backend)" in text
    assert [r["alertnames"] for r in read_records(file)] == [["ServiceDown"]]
