"""Alertmanager: configuration, routing table, templates and a live delivery (real binaries).

The routing cases (monitoring/alertmanager/tests/routes.yml) and the template cases
(monitoring/alertmanager/tests/templates.yml) are data files; these tests run every case through
``amtool``. The live test starts ``prometheus-alertmanager`` on a copy of the configuration whose
Slack, PagerDuty, dead-man's-switch and SMTP endpoints are local servers started here.
"""

from __future__ import annotations

import base64
import contextlib
import email
import email.policy
import json
import re
import shutil
import socketserver
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from hero_foundry.monitoring import check
from hero_foundry.processes import free_port, stop
from tests.conftest import unavailable
from tests.monitoring.test_prometheus_rules import CONTRACT_ALERTS

REPO = Path(__file__).parents[2]
ALERTMANAGER_DIR = REPO / "monitoring" / "alertmanager"
CONFIG = ALERTMANAGER_DIR / "alertmanager.yml"
ROUTES_FILE = ALERTMANAGER_DIR / "tests" / "routes.yml"
TEMPLATES_FILE = ALERTMANAGER_DIR / "tests" / "templates.yml"
RULES_DIR = REPO / "monitoring" / "prometheus" / "rules"

ROUTES = yaml.safe_load(ROUTES_FILE.read_text())
TEMPLATE_CASES = yaml.safe_load(TEMPLATES_FILE.read_text())
TEMPLATE_GLOB = str((TEMPLATES_FILE.parent / TEMPLATE_CASES["templates"]).resolve())

#: The customer's alertmanager.yml (its section 3.2), as it was delivered.
SEED_CONFIG = """\
global:
  smtp_smarthost: 'smtp.gmail.com:587'
  smtp_from: 'alerts@herofoundry.com'
  smtp_auth_username: 'alerts@herofoundry.com'
  smtp_auth_password: 'your-app-password'
route:
  group_by: ['alertname', 'service']
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  receiver: 'team-slack'
  routes:
    - match:
        severity: critical
      receiver: 'pagerduty-critical'
      continue: true
    - match:
        severity: warning
      receiver: 'team-slack'
receivers:
  - name: 'team-slack'
    slack_configs:
      - api_url: 'https://hooks.slack.com/services/YOUR/SLACK/WEBHOOK'
        channel: '#hero-foundry-alerts'
        title: '{{ template "slack.title" . }}'
        text: '{{ template "slack.text" . }}'
        actions:
          - type: button
            text: 'View in Grafana'
            url: '{{ template "slack.grafana" . }}'
  - name: 'pagerduty-critical'
    pagerduty_configs:
      - service_key: 'your-pagerduty-service-key'
        description: '{{ template "pagerduty.description" . }}'
        severity: '{{ if eq .GroupLabels.severity "critical" }}critical{{ else }}warning{{ end }}'
        client: 'Prometheus AlertManager'
        client_url: '{{ template "pagerduty.clientURL" . }}'
templates:
  - '/etc/alertmanager/template/*.tmpl'
"""


# -- helpers ------------------------------------------------------------------------------------
# Running amtool over the routing and template cases is hero_foundry.monitoring.check's job (the
# `hero-foundry monitoring check` command uses the same functions); these tests drive it.
def binary(name: str, hint: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        unavailable(name, hint)
    return path  # type: ignore[return-value]


@pytest.fixture(scope="module")
def amtool() -> str:
    return binary("amtool", check.AMTOOL.hint)


@pytest.fixture(scope="module")
def alertmanager_binary() -> str:
    return binary("prometheus-alertmanager", "install the Debian package prometheus-alertmanager")


#: The sample every template the configuration names is rendered against.
RENDER_SAMPLE = TEMPLATE_CASES["samples"][check.RENDER_SAMPLE]


# -- configuration ------------------------------------------------------------------------------
def test_config_passes_amtool_check_config(amtool: str) -> None:
    result = check.run(amtool, "check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_check_config_refuses_a_template_with_a_syntax_error(amtool: str, tmp_path: Path) -> None:
    copy = tmp_path / "alertmanager"
    shutil.copytree(ALERTMANAGER_DIR, copy)
    (copy / "templates" / "broken.tmpl").write_text('{{ define "broken" }}{{ .Status }{{ end }}')
    result = check.run(amtool, "check-config", str(copy / "alertmanager.yml"))
    assert result.returncode != 0
    assert "broken.tmpl" in result.stdout + result.stderr


def test_config_keeps_secrets_in_relative_files_and_uses_matchers() -> None:
    text = CONFIG.read_text()
    config = yaml.safe_load(text)
    # Secrets only through *_file fields pointing into secrets/, relative to the config.
    for field in ("api_url:", "routing_key:", "service_key", "smtp_auth_password:"):
        assert re.search(rf"^\s*{field}", text, re.M) is None, field
    slack = config["receivers"][0]["slack_configs"][0]
    pagerduty = next(r for r in config["receivers"] if r["name"] == "pagerduty-critical")
    assert slack["api_url_file"] == "secrets/slack_webhook_url"
    assert pagerduty["pagerduty_configs"][0]["routing_key_file"] == "secrets/pagerduty_routing_key"
    assert config["global"]["smtp_auth_password_file"] == "secrets/smtp_password"
    # `matchers`, never the deprecated `match`/`match_re`.
    assert re.search(r"^\s*-?\s*(match|match_re|source_match|target_match)\s*:", text, re.M) is None
    # The customer's grouping and timings.
    route = config["route"]
    assert route["group_by"] == ["alertname", "service"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == (
        "30s",
        "5m",
        "4h",
    )


def test_inhibition_rules_name_only_existing_alerts() -> None:
    """A misspelt alert name in an inhibition rule would silently inhibit nothing."""
    config = yaml.safe_load(CONFIG.read_text())
    named = set()
    for rule in config["inhibit_rules"]:
        for matcher in rule.get("source_matchers", []) + rule.get("target_matchers", []):
            if match := re.fullmatch(r'alertname=~?"([^"]+)"', matcher):
                named |= set(match.group(1).split("|"))
    assert named, "the inhibition rules name alerts"
    assert named <= CONTRACT_ALERTS, named - CONTRACT_ALERTS


def test_no_secret_file_is_committed() -> None:
    result = check.run("git", "ls-files", "--", "monitoring/alertmanager/secrets", cwd=REPO)
    if result.returncode != 0:
        pytest.skip("not a git checkout")
    assert set(result.stdout.split()) <= {
        "monitoring/alertmanager/secrets/README.md",
        "monitoring/alertmanager/secrets/.gitignore",
    }


# -- routing table ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ROUTES["cases"], ids=lambda case: case["name"])
def test_route(amtool: str, case: dict[str, Any]) -> None:
    config = (ROUTES_FILE.parent / ROUTES["config"]).resolve()
    result = check.route_test(amtool, config, case["labels"], case["receivers"])
    assert result.returncode == 0, (
        f"{case['labels']} reaches {result.stdout.strip()}, expected {case['receivers']}"
    )


def test_route_verification_fails_on_a_wrong_expectation(amtool: str) -> None:
    """amtool's verdict is trusted: a critical alert expected to reach Slack only is refused."""
    labels = {"alertname": "ServiceDown", "severity": "critical", "service": "fastapi-backend"}
    assert check.route_test(amtool, CONFIG, labels, ["team-slack"]).returncode != 0
    assert check.route_test(amtool, CONFIG, labels, ["pagerduty-critical"]).returncode != 0


def test_seed_routing_sends_critical_alerts_to_pagerduty_only(amtool: str, tmp_path: Path) -> None:
    """The defect the routing table guards against: the customer's configuration never posts a
    critical to Slack."""
    seed = tmp_path / "alertmanager.yml"
    seed.write_text(SEED_CONFIG)
    labels = {"alertname": "ServiceDown", "severity": "critical"}
    assert check.route_test(amtool, seed, labels, ["pagerduty-critical"]).returncode == 0


def test_route_table_covers_every_contract_alert_and_severity() -> None:
    names = {case["labels"].get("alertname") for case in ROUTES["cases"]}
    assert names >= CONTRACT_ALERTS, CONTRACT_ALERTS - names
    severities = {case["labels"].get("severity") for case in ROUTES["cases"]}
    assert {"critical", "warning", "info", "none", None} <= severities


def test_every_alert_rule_has_a_route_case() -> None:
    """Each (alert, severity) that Prometheus can send has a row in the routing table."""
    missing = check.uncovered_alerts(ROUTES, RULES_DIR)
    assert not missing, f"add these to {ROUTES_FILE.name}: {sorted(missing)}"


# -- templates ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "case",
    TEMPLATE_CASES["cases"],
    ids=[f"{c['template']}[{c['data']}]" for c in TEMPLATE_CASES["cases"]],
)
def test_template_renders(amtool: str, case: dict[str, Any], tmp_path: Path) -> None:
    data = TEMPLATE_CASES["samples"][case["data"]]
    result = check.render(
        amtool,
        check.case_text(case),
        data,
        tmp_path,
        glob=TEMPLATE_GLOB,
        kind=case.get("type", "text"),
    )
    assert result.returncode == 0, result.stderr
    assert check.problems_of(case, result.stdout) == []


def test_a_wrong_expected_text_is_reported(amtool: str, tmp_path: Path) -> None:
    case = {"template": "slack.title", "data": "service-down-firing", "equals": "[FIRING:1] x"}
    data = TEMPLATE_CASES["samples"][case["data"]]
    result = check.render(amtool, check.case_text(case), data, tmp_path, glob=TEMPLATE_GLOB)
    assert result.returncode == 0
    assert check.problems_of(case, result.stdout) != []
    assert check.problems_of({"contains": ["nowhere"], "excludes": ["FIRING"]}, result.stdout) == [
        "missing 'nowhere'",
        "unexpected 'FIRING'",
    ]


def test_every_defined_template_has_a_case() -> None:
    missing = check.templates_without_case(TEMPLATE_CASES, ALERTMANAGER_DIR / "templates")
    assert not missing, f"add cases to {TEMPLATES_FILE.name} for {sorted(missing)}"


def test_every_template_the_config_names_renders(amtool: str, tmp_path: Path) -> None:
    names = {name for name, _ in check.referenced_templates(yaml.safe_load(CONFIG.read_text()))}
    assert {"slack.title", "slack.text", "slack.grafana"} <= names
    assert {"pagerduty.description", "pagerduty.clientURL", "email.html"} <= names
    assert check.unrenderable_templates(amtool, CONFIG, RENDER_SAMPLE, tmp_path) == []


def test_seed_config_passes_check_config_but_names_undefined_templates(
    amtool: str, tmp_path: Path
) -> None:
    """amtool check-config accepts the customer's configuration; rendering its templates shows
    every send would fail."""
    seed = tmp_path / "alertmanager.yml"
    seed.write_text(SEED_CONFIG)
    assert check.run(amtool, "check-config", str(seed)).returncode == 0
    failures = check.unrenderable_templates(amtool, seed, RENDER_SAMPLE, tmp_path)
    for name in ("slack.title", "slack.text", "slack.grafana"):
        assert any(f.startswith(f"{name}:") and "not defined" in f for f in failures), failures
    for name in ("pagerduty.description", "pagerduty.clientURL"):
        assert any(f.startswith(f"{name}:") and "not defined" in f for f in failures), failures


def test_a_config_naming_an_undefined_template_is_caught(amtool: str, tmp_path: Path) -> None:
    copy = tmp_path / "alertmanager"
    shutil.copytree(ALERTMANAGER_DIR, copy)
    config = copy / "alertmanager.yml"
    config.write_text(config.read_text().replace('"slack.title"', '"slack.headline"', 1))
    assert check.run(amtool, "check-config", str(config)).returncode == 0
    failures = check.unrenderable_templates(amtool, config, RENDER_SAMPLE, tmp_path)
    assert len(failures) == 1 and failures[0].startswith("slack.headline:"), failures


def test_a_template_that_fails_when_sent_is_caught(amtool: str, tmp_path: Path) -> None:
    """Valid syntax, so check-config accepts it, but rendering it fails (as sending would)."""
    copy = tmp_path / "alertmanager"
    shutil.copytree(ALERTMANAGER_DIR, copy)
    slack = copy / "templates" / "slack.tmpl"
    slack.write_text(slack.read_text().replace("{{ $color -}}", "{{ .Colour }}{{ $color -}}", 1))
    assert check.run(amtool, "check-config", str(copy / "alertmanager.yml")).returncode == 0
    failures = check.unrenderable_templates(
        amtool, copy / "alertmanager.yml", RENDER_SAMPLE, tmp_path
    )
    assert len(failures) == 1 and failures[0].startswith("slack.color:"), failures
    assert "Colour" in failures[0]


# -- live: a real Alertmanager delivering to local Slack / PagerDuty / webhook / SMTP servers ---
class Recorder:
    """Everything the local servers received, with a bounded wait for what a test expects."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.mails: list[dict[str, Any]] = []
        self.changed = threading.Condition()

    def add(self, kind: str, item: dict[str, Any]) -> None:
        with self.changed:
            getattr(self, kind).append(item)
            self.changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(
                        f"not received within {timeout}s: {what}; got {self.summary()[:4000]}"
                    )
                self.changed.wait(min(remaining, 0.1))

    def posts(self, path: str) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests if r["path"] == path]

    def summary(self) -> str:
        mails = [str(mail["message"]) for mail in self.mails]
        return json.dumps([(r["path"], r["body"]) for r in self.requests] + mails)


def http_receiver(recorder: Recorder) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            recorder.add("requests", {"path": self.path, "body": json.loads(body)})
            # Slack answers "ok"; PagerDuty Events v2 answers 202 with a JSON status.
            status, reply = (
                (202, b'{"status":"success","message":"Event processed"}')
                if self.path == "/pagerduty"
                else (200, b"ok")
            )
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


def smtp_receiver(recorder: Recorder) -> socketserver.ThreadingTCPServer:
    """A minimal SMTP server: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            def reply(line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            mail: dict[str, Any] = {"rcpt": []}
            reply("220 localhost test SMTP")
            while line := self.rfile.readline():
                command = line.decode().rstrip("\r\n")
                verb = command.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    reply("250-localhost")
                    reply("250 AUTH PLAIN")
                elif verb == "AUTH":
                    _, user, password = base64.b64decode(command.split()[2]).split(b"\0")
                    mail["auth"] = (user.decode(), password.decode())
                    reply("235 2.7.0 Authentication successful")
                elif verb == "MAIL":
                    mail["from"] = command
                    reply("250 OK")
                elif verb == "RCPT":
                    mail["rcpt"].append(command)
                    reply("250 OK")
                elif verb == "DATA":
                    reply("354 End data with <CR><LF>.<CR><LF>")
                    lines = []
                    while (data := self.rfile.readline()) not in (b".\r\n", b""):
                        lines.append(data[1:] if data.startswith(b"..") else data)
                    mail["message"] = email.message_from_bytes(
                        b"".join(lines), policy=email.policy.default
                    )
                    recorder.add("mails", mail)
                    mail = {"rcpt": [], "auth": mail.get("auth")}
                    reply("250 OK")
                elif verb == "QUIT":
                    reply("221 Bye")
                    return
                else:
                    reply("250 OK")

    return socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)


@contextlib.contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[int]:
    server.daemon_threads = True  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]  # type: ignore[index]
    finally:
        server.shutdown()
        server.server_close()


SLACK_PATH, PAGERDUTY_PATH, DEADMANSSWITCH_PATH = "/slack", "/pagerduty", "/deadmansswitch"
ROUTING_KEY = "R0123456789ABCDEF0123456789ABCDE"
SMTP_PASSWORD = "smtp-password-from-a-file"


def live_config_copy(http_port: int, smtp_port: int, directory: Path) -> Path:
    """The repository's configuration with its endpoints pointed at the local servers."""
    shutil.copytree(ALERTMANAGER_DIR / "templates", directory / "templates")
    secrets = directory / "secrets"
    secrets.mkdir()
    (secrets / "slack_webhook_url").write_text(f"http://127.0.0.1:{http_port}{SLACK_PATH}\n")
    (secrets / "pagerduty_routing_key").write_text(ROUTING_KEY + "\n")
    # 0.25 trims the Slack URL and the routing key read from files, but not the SMTP password:
    # a trailing newline would become part of it (docs/alertmanager.md).
    (secrets / "smtp_password").write_text(SMTP_PASSWORD)
    config = yaml.safe_load(CONFIG.read_text())
    config["global"]["smtp_smarthost"] = f"127.0.0.1:{smtp_port}"
    config["global"]["smtp_require_tls"] = False  # the local SMTP server has no STARTTLS
    # Seconds instead of the production 30s / 5m, so the test waits for seconds.
    config["route"].update(group_wait="1s", group_interval="1s")
    for receiver in config["receivers"]:
        for pagerduty in receiver.get("pagerduty_configs", []):
            pagerduty["url"] = f"http://127.0.0.1:{http_port}{PAGERDUTY_PATH}"
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = f"http://127.0.0.1:{http_port}{DEADMANSSWITCH_PATH}"
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@contextlib.contextmanager
def running_alertmanager(binary_path: str, config: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = config.parent / "alertmanager.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [
                binary_path,
                f"--config.file={config.name}",
                f"--storage.path={config.parent / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.external-url={url}",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            # Alertmanager 0.25 opens api_url_file, routing_key_file and smtp_auth_password_file
            # relative to its working directory: it runs where its configuration is.
            cwd=config.parent,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Alertmanager did not start:\n{log.read_text()}")
                time.sleep(0.1)
            yield url, log
        finally:
            stop(process)


def api(url: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        payload = response.read()
    return json.loads(payload) if payload else None


def alert(name: str, severity: str, service: str, environment: str = "production", **extra: str):
    annotations = {
        "summary": f"{name} on {service}",
        "description": f"{name} fired for {service} in {environment}",
        "runbook_url": f"monitoring/runbooks/{name}.md",
    }
    annotations.update(extra)
    return {
        "labels": {
            "alertname": name,
            "severity": severity,
            "service": service,
            "environment": environment,
            "project": "hero-foundry",
        },
        "annotations": annotations,
        "generatorURL": "http://127.0.0.1:9090/graph",
    }


def names_in(posts: list[dict[str, Any]], field: Callable[[dict[str, Any]], str]) -> list[str]:
    return [field(post) for post in posts]


def slack_title(post: dict[str, Any]) -> str:
    return post["attachments"][0]["title"]


def pagerduty_summary(post: dict[str, Any]) -> str:
    return post["payload"]["summary"]


def test_live_alertmanager_delivers_to_slack_pagerduty_email_and_inhibits(
    alertmanager_binary: str, tmp_path: Path
) -> None:
    recorder = Recorder()
    with (
        serving(http_receiver(recorder)) as http_port,
        serving(smtp_receiver(recorder)) as smtp_port,
    ):
        config = live_config_copy(http_port, smtp_port, tmp_path)
        with running_alertmanager(alertmanager_binary, config) as (url, log):
            service_down = alert("ServiceDown", "critical", "fastapi-backend")
            service_down["labels"]["instance"] = "backend-1:8000"
            alerts = {
                "service_down": service_down,
                # Inhibited by ServiceDown of the same service.
                "error_rate": alert("HighErrorRate", "critical", "fastapi-backend"),
                # The page, and its ticket that the page inhibits.
                "latency_page": alert(
                    "ApiLatencyBudgetBurn",
                    "critical",
                    "fastapi-backend",
                    dashboard_uid="hero-foundry-slo",
                ),
                "latency_ticket": alert("ApiLatencyBudgetBurn", "warning", "fastapi-backend"),
                # The web tier forwards /api/*: its latency while the api is down is inhibited.
                "frontend_slow": alert("HighResponseTime", "warning", "react-frontend"),
                # The same service, but not a symptom any inhibition names: delivered.
                "creation_slow": alert("CharacterCreationSlow", "warning", "fastapi-backend"),
                # A database outage in staging inhibits staging's api symptoms, not production's.
                "staging_db": alert("PostgreSQLDown", "critical", "postgresql", "staging"),
                "staging_budget": alert(
                    "ApiErrorBudgetBurn", "critical", "fastapi-backend", "staging"
                ),
                "watchdog": alert("Watchdog", "none", "prometheus"),
            }
            api(url, "/api/v2/alerts", list(alerts.values()))

            # -- what is delivered -----------------------------------------------------------
            slack_titles = {
                "[FIRING:1] critical ServiceDown (fastapi-backend) in production",
                "[FIRING:1] critical ApiLatencyBudgetBurn (fastapi-backend) in production",
                "[FIRING:1] warning CharacterCreationSlow (fastapi-backend) in production",
                "[FIRING:1] critical PostgreSQLDown (postgresql) in staging",
            }
            recorder.wait_for(
                lambda: (
                    {slack_title(p) for p in recorder.posts(SLACK_PATH)} >= slack_titles
                    and len(recorder.posts(PAGERDUTY_PATH)) >= 2
                    and len(recorder.mails) >= 4
                    and recorder.posts(DEADMANSSWITCH_PATH)
                ),
                "Slack, PagerDuty, e-mail and dead man's switch notifications",
            )

            slack = {slack_title(p): p for p in recorder.posts(SLACK_PATH)}
            post = slack["[FIRING:1] critical ServiceDown (fastapi-backend) in production"]
            assert post["channel"] == "#hero-foundry-alerts"
            attachment = post["attachments"][0]
            assert attachment["color"] == "danger"
            assert "*Firing:* ServiceDown on fastapi-backend" in attachment["text"]
            assert "*Instance:* `backend-1:8000`" in attachment["text"]
            grafana, runbook = [(a["text"], a["url"]) for a in attachment["actions"]]
            assert grafana[0] == "View in Grafana"
            assert grafana[1].startswith("http://127.0.0.1:3001/d/hero-foundry-overview?orgId=1&")
            assert grafana[1].endswith("&to=now&var-instance=backend-1%3A8000")
            assert runbook == ("Runbook", "http://127.0.0.1:9099/runbooks/ServiceDown.md")
            slo_post = slack[
                "[FIRING:1] critical ApiLatencyBudgetBurn (fastapi-backend) in production"
            ]
            assert "/d/hero-foundry-slo?" in slo_post["attachments"][0]["actions"][0]["url"]
            assert slack[
                "[FIRING:1] warning CharacterCreationSlow (fastapi-backend) in production"
            ]["attachments"][0]["color"] == ("warning")

            # One PagerDuty incident per service: ServiceDown and the latency page of the api
            # share one (one dedup key; HighErrorRate is inhibited), PostgreSQL in staging has its
            # own. Only critical alerts page.
            incidents: dict[str, list[dict[str, Any]]] = {}
            for event in recorder.posts(PAGERDUTY_PATH):
                incidents.setdefault(event["dedup_key"], []).append(event)
            assert len(incidents) == 2, recorder.summary()
            (api_incident,) = [
                events for events in incidents.values()
                if events[0]["payload"]["component"] == "fastapi-backend"
            ]  # fmt: skip
            assert len(api_incident) == 1, "one trigger for the api's incident"
            event = api_incident[0]
            assert re.match(
                r"\[FIRING:2\] critical (ApiLatencyBudgetBurn, ServiceDown|ServiceDown, "
                r"ApiLatencyBudgetBurn) \(fastapi-backend\) in production: ",
                event["payload"]["summary"],
            ), event["payload"]["summary"]
            assert event["routing_key"] == ROUTING_KEY  # read from secrets/, trimmed
            assert event["event_action"] == "trigger"
            assert event["payload"]["severity"] == "critical"
            assert event["payload"]["component"] == "fastapi-backend"
            assert event["payload"]["group"] == "production"
            assert set(event["payload"]["class"].split(", ")) == {
                "ServiceDown",
                "ApiLatencyBudgetBurn",
            }
            assert event["client"] == "Prometheus AlertManager"
            assert event["client_url"] == (
                f"{url}/#/alerts?receiver=pagerduty-critical"
                "&filter=%7Benvironment%3D%22production%22%2Cservice%3D%22fastapi-backend%22%7D"
            )
            details = event["payload"]["custom_details"]
            assert details["dashboard"].startswith("http://127.0.0.1:3001/d/")
            assert details["runbook"].startswith("http://127.0.0.1:9099/runbooks/")
            assert details["prometheus"] == "http://127.0.0.1:9090/graph"
            assert details["recent_changes"] == "none"
            assert {link["text"] for link in event["links"]} == {
                "Dashboard",
                "Runbook",
                "Prometheus",
            }

            mails = {m["message"]["Subject"]: m for m in recorder.mails}
            mail = mails[
                "[FIRING:1] critical ServiceDown (fastapi-backend) in production: "
                "ServiceDown on fastapi-backend"
            ]
            assert mail["auth"] == ("alerts@herofoundry.com", SMTP_PASSWORD)
            assert mail["message"]["To"] == "hero-foundry-team@herofoundry.com"
            assert mail["message"]["From"] == "alerts@herofoundry.com"
            text = mail["message"].get_body(("plain",)).get_content()
            html = mail["message"].get_body(("html",)).get_content()
            assert "Critical: PagerDuty has paged the on-call engineer." in text
            assert "instance: backend-1:8000" in text
            assert '<a href="http://127.0.0.1:3001/d/hero-foundry-overview?orgId=1&amp;' in html
            assert any(s.startswith("[FIRING:1] warning CharacterCreationSlow") for s in mails)

            watchdog = recorder.posts(DEADMANSSWITCH_PATH)[0]
            assert [a["labels"]["alertname"] for a in watchdog["alerts"]] == ["Watchdog"]

            # -- what is inhibited -------------------------------------------------------------
            state = {
                "/".join(a["labels"][k] for k in ("alertname", "severity", "environment")): a[
                    "status"
                ]
                for a in api(url, "/api/v2/alerts")
            }
            for key in (
                "HighErrorRate/critical/production",  # by ServiceDown
                "ApiLatencyBudgetBurn/warning/production",  # by its critical twin
                "ApiErrorBudgetBurn/critical/staging",  # by PostgreSQLDown in staging
                "HighResponseTime/warning/production",  # the web tier's, by the api's ServiceDown
            ):
                assert state[key]["state"] == "suppressed" and state[key]["inhibitedBy"], key
            for key in (
                "ServiceDown/critical/production",
                "ApiLatencyBudgetBurn/critical/production",
                "CharacterCreationSlow/warning/production",
                "PostgreSQLDown/critical/staging",
            ):
                assert state[key]["state"] == "active", key
            # Each inhibited alert's three groups (PagerDuty, Slack, e-mail routes) have been
            # flushed twice: a group flushes one at a time, so the first flush, muted, is over.
            for name in ("HighErrorRate", "ApiErrorBudgetBurn"):
                flushes = re.compile(rf'msg=flushing alerts="?\[{name}\[')
                recorder.wait_for(
                    lambda flushes=flushes: len(flushes.findall(log.read_text())) >= 6,
                    f"Alertmanager flushing {name}'s groups twice",
                )
            everything = recorder.summary()
            assert "HighErrorRate" not in everything
            assert "ApiErrorBudgetBurn" not in everything
            assert "HighResponseTime" not in everything
            assert not any("warning ApiLatencyBudgetBurn" in title for title in slack)

            # -- resolving -----------------------------------------------------------------------
            # ServiceDown resolves: Slack and e-mail hear it (send_resolved), and the HighErrorRate
            # it was holding back is delivered at last. PagerDuty's incident for the api stays open
            # (the latency page and now HighErrorRate still fire): an update of the same incident,
            # never a resolve while the service is still failing.
            service_down["endsAt"] = datetime.now(UTC).isoformat()
            api(url, "/api/v2/alerts", [service_down])
            recorder.wait_for(
                lambda: (
                    any(
                        slack_title(p)
                        == "[RESOLVED:1] critical ServiceDown (fastapi-backend) in production"
                        for p in recorder.posts(SLACK_PATH)
                    )
                    and any(
                        "HighErrorRate" in p["payload"]["class"]
                        for p in recorder.posts(PAGERDUTY_PATH)
                    )
                    and any(
                        m["message"]["Subject"].startswith("[RESOLVED:1]") for m in recorder.mails
                    )
                    and any(
                        slack_title(p)
                        == "[FIRING:1] critical HighErrorRate (fastapi-backend) in production"
                        for p in recorder.posts(SLACK_PATH)
                    )
                ),
                "the resolved ServiceDown and the no longer inhibited HighErrorRate",
            )
            resolved = next(
                p
                for p in recorder.posts(SLACK_PATH)
                if slack_title(p).startswith("[RESOLVED:1] critical ServiceDown")
            )
            assert resolved["attachments"][0]["color"] == "good"
            api_events = [
                p for p in recorder.posts(PAGERDUTY_PATH)
                if p["payload"]["component"] == "fastapi-backend"
            ]  # fmt: skip
            assert {p["dedup_key"] for p in api_events} == {event["dedup_key"]}, "one incident"
            assert [p["event_action"] for p in api_events] == ["trigger"] * len(api_events)
