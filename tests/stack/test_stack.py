"""The supervisor (hero_foundry.stack.supervisor) and ``up``: which components run, what is said
when a program is missing, and one live smoke test of the whole stack in fast mode (Prometheus
scrapes the api, the Watchdog reaches the dead man's switch through Alertmanager and the sink,
``kill``/``restart`` of the api, nothing left running after ``stop``). The ``up`` command serves
the api without Prometheus and stops on SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from hero_foundry.monitoring.check import Tool
from hero_foundry.stack import cli as stack_cli
from hero_foundry.stack import supervisor
from hero_foundry.stack.config import Ports
from hero_foundry.stack.supervisor import Stack, StackOptions, group_members
from tests.conftest import unavailable


def live_pids_mentioning(text: str) -> list[int]:
    """Processes (not zombies) whose command line or environment mentions ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if text.encode() in blob:
            found.append(int(entry.name))
    return found


def missing(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    real = Tool.find

    def find(self: Tool) -> str | None:
        return None if self.name in names else real(self)

    monkeypatch.setattr(Tool, "find", find)


# -- What runs -----------------------------------------------------------------------------------
def test_sqlite_and_in_process_cache_need_no_database_exporters(tmp_path: Path) -> None:
    stack = Stack(StackOptions(state_dir=tmp_path))
    assert stack.wanted() == ["sink", "api", "node-exporter", "alertmanager", "prometheus"]


def test_the_web_tier_runs_and_is_scraped_as_react_frontend(tmp_path: Path) -> None:
    stack = Stack(StackOptions(state_dir=tmp_path, web=True))
    assert stack.wanted() == ["sink", "api", "web", "node-exporter", "alertmanager", "prometheus"]
    web = stack._build("web")
    assert web.command[web.command.index("--api-url") + 1] == f"http://127.0.0.1:{stack.ports.api}"
    assert "HERO_FOUNDRY_METRICS_TOKEN_FILE" in web.env  # the scrape token, as for the api
    generated = stack.generate()
    assert "react-frontend" not in generated.left_out_jobs
    without = Stack(StackOptions(state_dir=tmp_path / "without")).generate()
    assert "react-frontend" in without.left_out_jobs


def test_postgresql_and_redis_bring_their_exporters(tmp_path: Path) -> None:
    stack = Stack(
        StackOptions(
            state_dir=tmp_path,
            database_url="postgresql+asyncpg://hero:pw@127.0.0.1:5432/hero",
            redis_url="redis://:secret@127.0.0.1:6379/0",
        )
    )
    assert stack.wanted() == [
        "sink",
        "api",
        "postgres-exporter",
        "redis-exporter",
        "node-exporter",
        "alertmanager",
        "prometheus",
    ]
    env = stack._postgres_exporter_env()
    assert env["DATA_SOURCE_URI"] == "127.0.0.1:5432/hero?sslmode=disable"
    assert env["DATA_SOURCE_USER"] == "hero"
    password_file = Path(env["DATA_SOURCE_PASS_FILE"])
    assert password_file.read_text() == "pw" and password_file.stat().st_mode & 0o777 == 0o600
    assert "pw" not in "".join(env.values())
    assert stack._redis_exporter_addr() == ("redis://127.0.0.1:6379", {"REDIS_PASSWORD": "secret"})


def test_without_prometheus_only_the_api_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing(monkeypatch, "prometheus")
    stack = Stack(StackOptions(state_dir=tmp_path))
    assert stack.missing == ["prometheus"]
    assert stack.runnable() == ["api"]
    assert set(stack.urls) == {"api", "docs", "metrics"}


def test_without_alertmanager_nothing_needs_the_sink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing(monkeypatch, "prometheus-alertmanager")
    stack = Stack(StackOptions(state_dir=tmp_path))
    assert stack.runnable() == ["api", "node-exporter", "prometheus"]


def test_up_says_exactly_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing(monkeypatch, *(tool.name for tool in supervisor.TOOLS.values()))
    messages: list[str] = []
    monkeypatch.setattr(stack_cli.errors, "print", lambda text="", **_: messages.append(str(text)))
    stack = Stack(StackOptions(state_dir=tmp_path))
    stack_cli._install_missing(stack, install=False)
    text = "\n".join(messages)
    assert (
        "sudo apt-get install prometheus prometheus-alertmanager prometheus-node-exporter" in text
    )


def test_a_busy_port_is_reported_before_anything_starts(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ports = Ports(**{**Ports.free().__dict__, "sink": busy.getsockname()[1]})
        stack = Stack(StackOptions(state_dir=tmp_path, ports=ports))
        with pytest.raises(supervisor.StackError, match=f"port {ports.sink} of sink"):
            stack.start()
    assert stack.components == {}


def test_the_commands_register_in_a_typer_app() -> None:
    app = typer.Typer()
    app.command()(stack_cli.up)
    app.command()(stack_cli.sink)
    runner = CliRunner()
    result = runner.invoke(app, ["up", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--fast" in result.output and "--state-dir" in result.output
    result = runner.invoke(app, ["sink", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "--smtp-port" in result.output


# -- env.sh: the stack's variables for the runbooks ----------------------------------------------
def _sourced(env_sh: Path, *names: str) -> dict[str, str]:
    """The variables' values after sourcing ``env_sh`` in a clean bash (unset: absent)."""
    script = (
        '. "$1"; shift; '
        'for name; do [ -z "${!name+x}" ] || printf "%s=%s\\0" "$name" "${!name}"; done'
    )
    result = subprocess.run(
        ["bash", "-euc", script, "bash", str(env_sh), *names],
        capture_output=True,
        text=True,
        timeout=10,
        env={"PATH": os.environ["PATH"]},
        check=True,
    )
    return dict(item.split("=", 1) for item in result.stdout.split("\0") if item)


def test_env_sh_exports_the_stack_addresses_and_files_shell_quoted(tmp_path: Path) -> None:
    """generate() (every start) writes <state>/stack/env.sh: what the runbooks' local commands
    source. A state directory with a space and a quote survives the quoting."""
    state = tmp_path / "it's a state"
    ports = Ports.free()
    stack = Stack(StackOptions(state_dir=state, ports=ports))
    stack.generate()
    env_sh = state / "stack" / "env.sh"
    assert stack.env_sh == env_sh.resolve()
    text = env_sh.read_text()
    assert text.startswith("# The local stack of The Hero Foundry")
    assert '. "${HERO_FOUNDRY_STATE_DIR:-var}/stack/env.sh"' in text
    names = [*supervisor.ENV_SH_VARIABLES, *supervisor.ENV_SH_OPTIONAL]
    values = _sourced(env_sh, *names)
    resolved = state.resolve()
    assert values == {
        "PROM": f"http://127.0.0.1:{ports.prometheus}",
        "AM": f"http://127.0.0.1:{ports.alertmanager}",
        "API": f"http://127.0.0.1:{ports.api}",
        "SINK": f"http://127.0.0.1:{ports.sink}",
        "LOGS": str(resolved / "logs" / "fastapi" / "hero-foundry.log"),
        "STACK": str(resolved / "stack"),
        "HF": str(Path(sys.executable).parent / "hero-foundry"),
        "HERO_FOUNDRY_DRILLS_FILE": str(resolved / "drills.json"),
        "HERO_FOUNDRY_STATE_DIR": str(resolved),
    }, "no WEB without the web tier"
    # The api writes its ECS JSON file where LOGS says; the drill CLI reads the stack's drills.
    assert stack._api_env()["HERO_FOUNDRY_LOG_DIR"] == str(resolved / "logs")
    assert stack._api_env()["HERO_FOUNDRY_DRILLS_FILE"] == values["HERO_FOUNDRY_DRILLS_FILE"]
    assert stack.files["env.sh"] == stack.env_sh

    web = Stack(StackOptions(state_dir=tmp_path / "web", ports=ports, web=True))
    web.generate()
    assert _sourced(web.env_sh, "WEB") == {"WEB": f"http://127.0.0.1:{ports.web}"}


def test_env_sh_names_the_output_file_when_the_api_logs_to_stdout_only(tmp_path: Path) -> None:
    stack = Stack(StackOptions(state_dir=tmp_path, api_env={"HERO_FOUNDRY_LOG_DIR": ""}))
    stack.generate()
    assert _sourced(stack.env_sh, "LOGS") == {"LOGS": str(tmp_path / "stack" / "api" / "api.log")}


def test_the_sink_serves_the_repository_runbooks(tmp_path: Path) -> None:
    stack = Stack(StackOptions(state_dir=tmp_path))
    stack.generate()
    command = stack._build("sink").command
    assert command[command.index("--runbooks") + 1] == str(stack.root / "monitoring" / "runbooks")


@pytest.mark.parametrize(("factor", "delay"), [(60, "5s"), (600, "5s"), (6, "10s"), (1, "1m")])
def test_fast_mode_resends_alerts_sooner_but_not_under_5_s(factor: float, delay: str) -> None:
    assert supervisor.fast_resend_delay(factor) == delay


# -- Live ----------------------------------------------------------------------------------------
def test_live_stack_scrapes_the_api_and_delivers_the_watchdog_then_leaves_nothing(
    tmp_path: Path,
) -> None:
    """The whole stack in fast mode on free ports, SQLite in a temporary state directory."""
    stack = Stack(StackOptions(state_dir=tmp_path, ports=Ports.free(), fast=60, ready_timeout=40))
    if "prometheus" in stack.missing or "prometheus-alertmanager" in stack.missing:
        unavailable("prometheus and prometheus-alertmanager", "apt-get install " + " ".join(
            stack.missing))  # fmt: skip
    started = time.monotonic()
    pids: list[int] = []
    with stack:
        assert list(stack.components) == stack.runnable()
        pids = [pid for name in stack.components for pid in stack.pids(name)]
        api = stack.pids("api")
        assert len(api) >= 3, "the api's master and its 2 workers"

        # Prometheus scrapes the api (with the generated token) ...
        deadline = time.monotonic() + 30
        while True:
            targets = stack.prometheus_api("targets", state="active")["activeTargets"]
            health = {t["labels"]["job"]: t["health"] for t in targets}
            if health.get("fastapi-backend") == "up":
                break
            assert time.monotonic() < deadline, targets
            time.sleep(0.5)
        assert "react-frontend" not in health and "postgresql" not in health
        # ... and the Watchdog reaches the dead man's switch through Alertmanager and the sink.
        record = stack.wait_for_notification(30, channel="deadmansswitch", alertname="Watchdog")
        assert record is not None, (stack.stack_dir / "alertmanager/alertmanager.log").read_text()
        assert record["receiver"] == "deadmansswitch"
        # Nothing that is not meant to run is reported missing.
        assert not stack.notifications(alertname="TargetMissing")

        # The api's master and workers die together; restart brings it back.
        stack.kill("api")
        assert not stack.running("api") and not any(group_members(pid) for pid in api)
        stack.restart("api")
        assert urllib.request.urlopen(stack.urls["api"] + "/healthz", timeout=5).status == 200
        pids += stack.pids("api")
    assert time.monotonic() - started < 60
    assert _live(pids) == set(), "every process the stack started is gone"
    assert live_pids_mentioning(str(tmp_path)) == []
    # The data stays for the next run.
    assert (tmp_path / "hero-foundry.sqlite3").is_file()
    assert any((tmp_path / "stack" / "prometheus" / "data").iterdir())


def _live(pids: list[int]) -> set[int]:
    live = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            live.add(pid)
    return live


def test_up_serves_the_api_without_prometheus_and_stops_on_sigint(tmp_path: Path) -> None:
    """No monitoring program on PATH: `up` says what to install, serves the api anyway, and
    Ctrl-C stops the api's master and workers."""
    empty = tmp_path / "bin"
    empty.mkdir()
    port = Ports.free().api
    command = [sys.executable, "-m", "hero_foundry.stack", "up", "--no-install"]
    command += ["--state-dir", str(tmp_path / "state"), "--api-port", str(port)]
    env = {**os.environ, "PATH": str(empty), "COLUMNS": "200"}
    env = {k: v for k, v in env.items() if not k.startswith("HERO_FOUNDRY_")}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        deadline = time.monotonic() + 40
        while not any(b"Ctrl-C stops everything" in line for line in list(lines)):
            assert process.poll() is None and time.monotonic() < deadline, b"".join(lines)
            time.sleep(0.2)
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).status == 200
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        reader.join(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = b"".join(lines)
    text = output.decode()
    assert process.returncode == 0, text
    assert (
        "sudo apt-get install prometheus prometheus-alertmanager prometheus-node-exporter" in text
    )
    assert f"http://127.0.0.1:{port}/docs" in text
    assert f". {tmp_path / 'state' / 'stack' / 'env.sh'}" in text  # the runbooks' variables
    assert "stopped" in text
    assert live_pids_mentioning(str(tmp_path)) == []
