"""``hero-foundry monitoring check``: the one command that checks all of monitoring/.

- On the repository as committed it passes, every item OK: this is what CI runs, so the suite
  (``make test``) fails whenever the command would.
- On a copy of monitoring/ and deploy/ with one defect injected, it exits 1 and names the item
  that failed and why; the unmodified copy passes, so the defect is the cause.
- ``--only`` runs the items named, an unknown one is a usage error (exit 2, no traceback), a
  directory without monitoring/ is refused, a missing tool is reported with what to install
  (SKIPPED; FAILED under CI=true).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from hero_foundry.cli import app
from hero_foundry.monitoring import check
from tests.conftest import unavailable

REPO = Path(__file__).resolve().parents[2]
#: Wide enough that no table cell wraps in the middle of what a test looks for.
WIDE = {"COLUMNS": "400"}


def command() -> list[str]:
    """The installed console script, as CI runs it (else the module)."""
    script = Path(sys.executable).with_name("hero-foundry")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "hero_foundry.cli"]


def verdicts(output: str) -> dict[str, str]:
    """Item -> verdict, read from the table's rows."""
    names = "|".join(re.escape(name) for name in check.NAMES)
    return dict(re.findall(rf"^\s*({names})\s+(OK|FAILED|SKIPPED)\s+\d+\.\d s", output, re.M))


def flat(output: str) -> str:
    """The output with every run of whitespace made one space (wrapped cells read on)."""
    return " ".join(output.split())


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, ["monitoring", "check", *args], env={**WIDE, **(env or {})})


def skip_unless_installed(items: list[str]) -> None:
    missing = check.missing_tools(check.select(items), live=False)
    if missing:
        unavailable(", ".join(t.name for t in missing), "; ".join(t.hint for t in missing))


# -- The repository passes: what CI runs -----------------------------------------------------
@pytest.fixture(scope="module")
def full_run() -> subprocess.CompletedProcess[str]:
    """``hero-foundry monitoring check`` on this repository, every item, live (the real
    exporters, Prometheus and Alertmanager tell the dashboards' metric names)."""
    return subprocess.run(
        [*command(), "monitoring", "check"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **WIDE},
        check=False,
    )


def test_the_command_passes_on_the_repository(full_run: subprocess.CompletedProcess[str]) -> None:
    output = full_run.stdout + full_run.stderr
    assert full_run.returncode == 0, output
    found = verdicts(full_run.stdout)
    assert list(found) == list(check.NAMES), output  # every item, in order
    assert "FAILED" not in found.values(), output
    assert f"passed ({len(check.NAMES)} OK)" in full_run.stdout or "SKIPPED" in found.values()
    # Progress while it runs, one line per item as it ends.
    for n, name in enumerate(check.NAMES, 1):
        assert f"[{n}/{len(check.NAMES)}] {name}: " in full_run.stderr
    skipped = [name for name, verdict in found.items() if verdict == "SKIPPED"]
    if skipped:
        unavailable(f"the tools of {', '.join(skipped)}", flat(full_run.stdout))


# -- A copy of the repository with one defect -------------------------------------------------
def _no_secrets(directory: str, names: list[str]) -> set[str]:
    """Never copy real secrets: in a secrets/ directory only the committed files."""
    if Path(directory).name != "secrets":
        return set()
    return {name for name in names if name not in {"README.md", ".gitignore", "metrics_token"}}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pristine")
    for part in ("monitoring", "deploy"):
        shutil.copytree(REPO / part, root / part, ignore=_no_secrets)
    (root / "monitoring" / "prometheus" / "secrets" / "metrics_token").write_text("")
    return root


@pytest.fixture
def copy(pristine: Path, tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(pristine, root)
    return root


def test_the_unmodified_copy_passes(pristine: Path) -> None:
    """So the defects below, each in such a copy, are what fails the command. (Not the promtool
    unit tests, the slowest item: the full run passes them on the same files.)"""
    items = [name for name in check.NAMES if name != "prometheus-tests"]
    skip_unless_installed(items)
    result = invoke("--root", str(pristine), "--only", ",".join(items), "--offline", env={"CI": ""})
    assert result.exit_code == 0, result.output
    assert verdicts(result.output) == dict.fromkeys(items, "OK"), result.output
    assert str(pristine) in result.output  # the root it was given, not the checkout


def replace(path: str, old: str, new: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        target = root / path
        text = target.read_text()
        assert old in text, f"{old!r} is not in {path}"
        target.write_text(text.replace(old, new, 1))

    return mutate


def edit_yaml(path: str, change: Callable[[Any], None]) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        document = yaml.safe_load((root / path).read_text())
        change(document)
        (root / path).write_text(yaml.safe_dump(document, sort_keys=False))

    return mutate


def _drop_watchdog_routes(routes: dict[str, Any]) -> None:
    routes["cases"] = [c for c in routes["cases"] if c["labels"].get("alertname") != "Watchdog"]


def _drop_slack_color_cases(cases: dict[str, Any]) -> None:
    cases["cases"] = [c for c in cases["cases"] if c["template"] != "slack.color"]


DEFECTS = {
    "a broken rule expression": (
        "prometheus-rules",
        replace(
            "monitoring/prometheus/rules/hero-foundry-alerts.yml", "expr: up == 0", "expr: up =="
        ),
        "hero-foundry-alerts.yml:",
    ),
    "rule_files that load nothing": (
        "prometheus-config",
        replace("monitoring/prometheus/prometheus.yml", '"rules/*.yml"', '"rule/*.yml"'),
        "prometheus.yml loads 0 rule files but rules/ has 6",
    ),
    "a failing promtool test expectation": (
        "prometheus-tests",
        replace(
            "monitoring/prometheus/tests/seed_alerts_test.yml",
            "severity: critical",
            "severity: warning",
        ),
        "seed_alerts_test.yml:",
    ),
    "an Alertmanager route to an undefined receiver": (
        "alertmanager-config",
        replace(
            "monitoring/alertmanager/alertmanager.yml", "receiver: 'team-slack'", "receiver: 'x'"
        ),
        'undefined receiver "x"',
    ),
    "a route case expecting the wrong receiver": (
        "alertmanager-routes",
        replace(
            "monitoring/alertmanager/tests/routes.yml",
            "receivers: [pagerduty-critical, team-slack, team-email]",
            "receivers: [team-slack]",
        ),
        "a service down pages, posts to Slack and mails the team: ",
    ),
    "an alert without a route case": (
        "alertmanager-routes",
        edit_yaml("monitoring/alertmanager/tests/routes.yml", _drop_watchdog_routes),
        "no case in routes.yml for Watchdog severity=none",
    ),
    "a template text changed": (
        "alertmanager-templates",
        replace(
            "monitoring/alertmanager/templates/slack.tmpl",
            '{{ define "slack.title" }}{{ template "hero_foundry.title" . }}',
            '{{ define "slack.title" }}{{ template "hero_foundry.title" . }}!',
        ),
        "slack.title[service-down-firing]: expected exactly "
        "'[FIRING:1] critical ServiceDown (fastapi-backend) in production'",
    ),
    "a template without a case": (
        "alertmanager-templates",
        edit_yaml("monitoring/alertmanager/tests/templates.yml", _drop_slack_color_cases),
        "no case in templates.yml renders slack.color",
    ),
    "a stale dashboard JSON": (
        "dashboards",
        replace(
            "monitoring/grafana/dashboards/hero-foundry-overview.json",
            '"title": "The Hero Foundry - Production Overview"',
            '"title": "The Hero Foundry - Overview"',
        ),
        "hero-foundry-overview.json: stale",
    ),
    "a stale Kubernetes manifest": (
        "kubernetes",
        replace(
            "deploy/kubernetes/manifests/namespace.yaml", "kind: Namespace", "kind: Namespace\n#"
        ),
        "deploy/kubernetes/manifests/namespace.yaml: stale",
    ),
    "a broken compose file": (
        "compose",
        replace("deploy/compose.yaml", "image: redis:", "imagee: redis:"),
        "imagee",
    ),
}


@pytest.mark.parametrize("defect", DEFECTS)
def test_a_defect_fails_the_command_and_names_its_item(defect: str, copy: Path) -> None:
    item, mutate, reason = DEFECTS[defect]
    skip_unless_installed([item])
    mutate(copy)
    result = invoke("--root", str(copy), "--only", item, "--offline", env={"CI": ""})
    assert result.exit_code == 1, result.output
    assert verdicts(result.output) == {item: "FAILED"}, result.output  # --only: that item only
    assert reason in flat(result.output), result.output
    assert f"FAILED: {item}" in result.output


# -- Usage -------------------------------------------------------------------------------------
def test_only_runs_the_items_named_in_run_order() -> None:
    result = invoke("--only", "compose, kubernetes", env={"CI": ""})
    assert result.exit_code == 0, result.output
    assert list(verdicts(result.output)) == ["kubernetes", "compose"]


def test_an_unknown_item_is_a_usage_error() -> None:
    result = invoke("--only", "kubernetes,prometheus-rule")
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)  # no traceback
    output = flat(result.output)
    assert "unknown item(s): prometheus-rule" in output
    assert "choose from prometheus-config, prometheus-rules" in output
    assert verdicts(result.output) == {}, "nothing ran"


def test_a_directory_without_monitoring_is_refused(tmp_path: Path) -> None:
    result = invoke("--root", str(tmp_path))
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert f"no monitoring/ directory in {tmp_path.resolve()}" in flat(result.output)


def test_help_lists_every_item_and_option() -> None:
    result = CliRunner().invoke(app, ["monitoring", "check", "--help"], env=WIDE)
    assert result.exit_code == 0
    for text in (*check.NAMES, "--only", "--offline", "--install", "--root", "CI=true"):
        assert text in result.output


# -- Missing tools -----------------------------------------------------------------------------
def run_without_tools(ci: bool) -> subprocess.CompletedProcess[str]:
    """The command with an empty PATH: promtool, amtool and apt-get are not found."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(WIDE, PATH="", **({"CI": "true"} if ci else {}))
    return subprocess.run(
        [*command(), "monitoring", "check", "--only", "prometheus-rules,alertmanager-routes"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_a_missing_tool_is_skipped_with_what_to_install() -> None:
    result = run_without_tools(ci=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert verdicts(result.stdout) == {
        "prometheus-rules": "SKIPPED",
        "alertmanager-routes": "SKIPPED",
    }
    output = flat(result.stdout)
    assert "promtool is not installed: apt-get install prometheus" in output
    assert "amtool is not installed: apt-get install prometheus-alertmanager" in output
    assert "--install" in result.stderr


def test_under_ci_a_missing_tool_fails_the_command() -> None:
    result = run_without_tools(ci=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert verdicts(result.stdout) == {
        "prometheus-rules": "FAILED",
        "alertmanager-routes": "FAILED",
    }
    assert "CI=true: a check that cannot run fails" in flat(result.stdout)
    # It tried to install them, and says why it could not.
    assert "cannot install promtool, amtool" in flat(result.stderr)


def test_install_plan() -> None:
    tools = [check.AMTOOL, check.PROMTOOL]
    assert check.install_plan(tools, euid=0, debian=True, apt_get="/usr/bin/apt-get") == [
        ["/usr/bin/apt-get", "update", "-qq"],
        ["/usr/bin/apt-get", "install", "-y", "-qq", "prometheus", "prometheus-alertmanager"],
    ]
    not_root = check.install_plan(tools, euid=1000, debian=True, apt_get="/usr/bin/apt-get")
    assert isinstance(not_root, str)
    assert "sudo apt-get install prometheus prometheus-alertmanager" in not_root
    elsewhere = check.install_plan(tools, euid=0, debian=False, apt_get=None)
    assert isinstance(elsewhere, str) and "not a Debian/Ubuntu system" in elsewhere
    compose = check.install_plan([check.COMPOSE], euid=0, debian=True, apt_get="/usr/bin/apt-get")
    assert compose == f"apt-get cannot install docker-compose: {check.COMPOSE.hint}"
