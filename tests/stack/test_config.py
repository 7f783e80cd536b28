"""The local configuration generated from monitoring/ (hero_foundry.stack.config): only
addresses, credentials and receivers' URLs differ from the repository's files; jobs that do not
run locally are left out, with their TargetMissing terms; the fast overlay divides every
duration; promtool and amtool accept the result; the repository's files are never touched."""

from __future__ import annotations

import copy
import hashlib
import re
import shutil
import subprocess
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from hero_foundry.stack import config
from hero_foundry.stack.config import Ports
from tests.conftest import unavailable

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "monitoring" / "prometheus"
ALERTMANAGER_DIR = REPO / "monitoring" / "alertmanager"
SQLITE_COMPONENTS = {"sink", "api", "node-exporter", "alertmanager", "prometheus"}
ALL_COMPONENTS = SQLITE_COMPONENTS | {"postgres-exporter", "redis-exporter"}
PORTS = Ports(
    api=18000,
    prometheus=19090,
    alertmanager=19093,
    sink=19099,
    smtp=12525,
    node_exporter=19100,
    postgres_exporter=19187,
    redis_exporter=19121,
)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def generate(tmp_path: Path, components: set[str] = SQLITE_COMPONENTS, **kw: Any):
    return config.generate(REPO, tmp_path, ports=PORTS, components=components, **kw)


PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(name, f"install the Debian package {PACKAGES[name]}")
    return path  # type: ignore[return-value]


def jobs(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in document["scrape_configs"]}


def target_missing(rules: dict[str, Any]) -> dict[str, Any]:
    return next(
        rule
        for group in rules["groups"]
        for rule in group["rules"]
        if rule.get("alert") == "TargetMissing"
    )


def absent_jobs(expr: str) -> list[str]:
    return re.findall(r'absent\(up\{job="([^"]+)"\}\)', expr)


# -- Durations -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "milliseconds", "formatted"),
    [
        ("5m", 300_000, "5m"),
        ("1h30m", 5_400_000, "1h30m"),
        ("500ms", 500, "500ms"),
        ("3d", 259_200_000, "72h"),
        ("0s", 0, "0s"),
    ],
)
def test_durations_parse_and_format(text: str, milliseconds: int, formatted: str) -> None:
    assert config.parse_duration(text) == milliseconds
    assert config.format_duration(milliseconds) == formatted


@pytest.mark.parametrize(
    ("text", "scaled"),
    [("5m", "5s"), ("1m", "1s"), ("30s", "500ms"), ("4h", "4m"), ("3d", "1h12m"), ("0s", "0s")],
)
def test_scale_duration_divides_by_the_factor(text: str, scaled: str) -> None:
    assert config.scale_duration(text, 60) == scaled


def test_scale_expr_scales_ranges_subqueries_and_offsets_but_not_strings() -> None:
    expr = (
        'rate(x{path=~"/a[5m]", b="offset 5m"}[5m]) + max_over_time(y[1h:30s] offset 10m) + z[3d:]'
    )
    assert config.scale_expr(expr, 60) == (
        'rate(x{path=~"/a[5m]", b="offset 5m"}[5s]) + max_over_time(y[1m:500ms] offset 10s)'
        " + z[1h12m:]"
    )


def test_a_bad_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        config.parse_duration("5 minutes")


# -- Prometheus ----------------------------------------------------------------------------------
def test_free_ports_are_distinct_bindable_and_below_the_ephemeral_range() -> None:
    """A killed component restarts on its port: an ephemeral port could meanwhile be the
    source port of any outgoing connection."""
    import socket

    ports = list(Ports.free().__dict__.values())
    assert len(set(ports)) == len(ports) == len(fields(Ports))
    assert all(1024 <= port < config._ephemeral_low() for port in ports)
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_prometheus_copy_differs_only_in_targets_token_alerting_and_rule_files(
    tmp_path: Path,
) -> None:
    source = load(PROMETHEUS_DIR / "prometheus.yml")
    generated = generate(tmp_path)
    local = load(generated.prometheus_config)

    # The jobs whose component runs here, and only them.
    assert generated.left_out_jobs == ["react-frontend", "postgresql", "redis"]
    assert list(jobs(local)) == [j for j in jobs(source) if j not in generated.left_out_jobs]
    expected_targets = {
        "prometheus": "127.0.0.1:19090",
        "fastapi-backend": "127.0.0.1:18000",
        "node-exporter": "127.0.0.1:19100",
        "alertmanager": "127.0.0.1:19093",
    }
    for name, job in jobs(local).items():
        assert job["static_configs"] == [{"targets": [expected_targets[name]]}]
        original = copy.deepcopy(jobs(source)[name])
        changed = copy.deepcopy(job)
        for document in (original, changed):
            document.pop("static_configs")
            if "authorization" in document:
                document["authorization"].pop("credentials_file")
        assert changed == original, f"job {name}: only its targets and token file may differ"

    # The api's scrape token: a local secret file, given to Prometheus by absolute path.
    token = generated.metrics_token_file
    assert jobs(local)["fastapi-backend"]["authorization"]["credentials_file"] == str(token)
    assert token.stat().st_mode & 0o777 == 0o600
    assert len(token.read_text()) >= 32 and not token.read_text().endswith("\n")

    assert local["alerting"] == {
        "alertmanagers": [{"static_configs": [{"targets": ["127.0.0.1:19093"]}]}]
    }
    assert local["global"] == source["global"]
    assert set(local) == set(source)

    # The repository's rule files; generated where they have alerts (their runbook links
    # point at this stack's sink, on 19099 here) and for meta.yml (TargetMissing) anyway.
    on_disk = sorted(PROMETHEUS_DIR.glob("rules/*.yml"))
    assert [Path(p).name for p in local["rule_files"]] == [p.name for p in on_disk]
    generated_names = [p.name for p in generated.generated_rules]
    with_alerts = [
        p.name for p in on_disk if any("alert" in r for g in load(p)["groups"] for r in g["rules"])
    ]
    assert generated_names == with_alerts and "meta.yml" in generated_names
    for path in map(Path, local["rule_files"]):
        assert path.is_absolute() and path.is_file()
        if path.name not in generated_names:
            assert path.parent == PROMETHEUS_DIR / "rules"


def test_target_missing_keeps_exactly_the_jobs_that_run(tmp_path: Path) -> None:
    generated = generate(tmp_path)
    source = load(PROMETHEUS_DIR / "rules" / "meta.yml")
    local = load(tmp_path / "stack" / "prometheus" / "rules" / "meta.yml")
    assert set(absent_jobs(target_missing(source)["expr"])) == set(
        jobs(load(PROMETHEUS_DIR / "prometheus.yml"))
    ), "the repository's TargetMissing has one term per job"
    kept = absent_jobs(target_missing(local)["expr"])
    assert kept == ["prometheus", "fastapi-backend", "node-exporter", "alertmanager"]
    assert not set(kept) & set(generated.left_out_jobs)

    # Nothing else of meta.yml changed but the runbook links, which open this stack's sink.
    without = copy.deepcopy(local)
    target_missing(without)["expr"] = target_missing(source)["expr"]
    for group, source_group in zip(without["groups"], source["groups"], strict=True):
        for rule, source_rule in zip(group["rules"], source_group["rules"], strict=True):
            url = rule["annotations"]["runbook_url"]
            assert url == f"http://127.0.0.1:19099/runbooks/{rule['alert']}.md"
            rule["annotations"]["runbook_url"] = source_rule["annotations"]["runbook_url"]
    assert without == source


def test_the_runbook_links_stay_the_repository_s_without_a_sink(tmp_path: Path) -> None:
    """Without the sink (no Alertmanager here) nothing serves runbooks locally: the rule files
    keep the links of monitoring/links.yml."""
    generated = generate(tmp_path, SQLITE_COMPONENTS - {"sink"})
    assert "meta.yml" in [p.name for p in generated.generated_rules]  # TargetMissing still
    assert [p.name for p in generated.generated_rules] == ["meta.yml"]


def test_with_postgresql_and_redis_only_the_web_tier_is_left_out(tmp_path: Path) -> None:
    generated = generate(tmp_path, ALL_COMPONENTS)
    assert generated.left_out_jobs == ["react-frontend"]
    local = load(generated.prometheus_config)
    assert jobs(local)["postgresql"]["static_configs"] == [{"targets": ["127.0.0.1:19187"]}]
    assert jobs(local)["redis"]["static_configs"] == [{"targets": ["127.0.0.1:19121"]}]
    meta = load(tmp_path / "stack" / "prometheus" / "rules" / "meta.yml")
    assert "react-frontend" not in absent_jobs(target_missing(meta)["expr"])
    assert len(absent_jobs(target_missing(meta)["expr"])) == 6


def test_without_absent_terms() -> None:
    chain = 'absent(up{job="a"})\nor absent(up{job="b"})\n'
    assert config.without_absent_terms(chain, {"b"}) == 'absent(up{job="a"})\n'
    assert config.without_absent_terms(chain, {"c"}) == chain
    assert config.without_absent_terms(chain, {"a", "b"}) is None
    assert config.without_absent_terms("up == 0", {"a"}) == "up == 0"
    with pytest.raises(ValueError, match="cannot remove"):
        config.without_absent_terms('absent(up{job="a"}) * 2', {"a"})


def test_a_rule_with_only_left_out_jobs_is_dropped() -> None:
    rules = {"groups": [{"name": "g", "rules": [{"alert": "X", "expr": 'absent(up{job="a"})'}]}]}
    assert config.local_rules(rules, left_out=["a"]) == {"groups": [{"name": "g", "rules": []}]}
    assert rules["groups"][0]["rules"], "the source document is not modified"


# -- The fast overlay ----------------------------------------------------------------------------
_BRACKETS = re.compile(r"\[([0-9a-z]+)(?::([0-9a-z]*))?\]")


def _durations_and_rest(expr: str) -> tuple[list[int], str]:
    durations = [
        config.parse_duration(d) for pair in _BRACKETS.findall(expr) for d in pair if d
    ] + [config.parse_duration(d) for d in re.findall(r"offset ([0-9a-z]+)", expr)]
    return durations, _BRACKETS.sub("[]", re.sub(r"offset [0-9a-z]+", "offset", expr))


def test_fast_overlay_scales_every_duration_of_every_rule(tmp_path: Path) -> None:
    factor = 60
    generated = generate(tmp_path, ALL_COMPONENTS, factor=factor)
    local = load(generated.prometheus_config)
    assert local["global"]["scrape_interval"] == local["global"]["evaluation_interval"] == "1s"
    # Every job every second, but PostgreSQL's exporter (it answers a down server after 1 s).
    intervals = {
        job["job_name"]: job.get("scrape_interval", "1s") for job in local["scrape_configs"]
    }
    assert intervals.pop("postgresql") == config.FAST_SLOW_JOBS["postgresql"] == "2s"
    (postgresql,) = [job for job in local["scrape_configs"] if job["job_name"] == "postgresql"]
    assert postgresql["scrape_timeout"] == "2s"
    assert set(intervals.values()) == {"1s"}

    by_name = {Path(p).name: load(Path(p)) for p in local["rule_files"]}
    checked = 0
    for path in sorted(PROMETHEUS_DIR.glob("rules/*.yml")):
        source, fast = load(path), by_name[path.name]
        for group, fast_group in zip(source["groups"], fast["groups"], strict=True):
            if "interval" in group:
                assert config.parse_duration(fast_group["interval"]) * factor == (
                    config.parse_duration(group["interval"])
                )
            for rule, fast_rule in zip(group["rules"], fast_group["rules"], strict=True):
                name = rule.get("alert") or rule.get("record")
                expr = rule["expr"]
                if rule.get("alert") == "TargetMissing":
                    expr = target_missing(load(tmp_path / "stack/prometheus/rules/meta.yml"))[
                        "expr"
                    ]
                    # The one floor: absent() needs Prometheus' first scrapes (about 10 s).
                    assert fast_rule["for"] == config.FAST_ABSENT_MIN_FOR
                elif "for" in rule:
                    # Scaled, but never under three scrapes (FAST_MIN_FOR).
                    expected = max(
                        config.parse_duration(rule["for"]) // factor,
                        min(
                            config.parse_duration(config.FAST_MIN_FOR),
                            config.parse_duration(rule["for"]),
                        ),
                    )
                    assert config.parse_duration(fast_rule["for"]) == expected, name
                if "keep_firing_for" in rule:
                    expected = max(
                        config.parse_duration(rule["keep_firing_for"]) // factor,
                        config.parse_duration(config.FAST_MIN_KEEP_FIRING_FOR),
                    )
                    assert config.parse_duration(fast_rule["keep_firing_for"]) == expected, name
                original, rest = _durations_and_rest(str(expr))
                scaled, fast_rest = _durations_and_rest(str(fast_rule["expr"]))
                if rule.get("alert") != "TargetMissing":
                    assert fast_rest == rest, f"{name}: only durations may change"
                assert [d * factor for d in scaled] == original, name
                checked += len(original)
                timing = ("for", "keep_firing_for", "expr", "annotations")
                untouched = {k: v for k, v in rule.items() if k not in timing}
                assert {k: v for k, v in fast_rule.items() if k not in timing} == untouched
    assert checked > 50, "the rules' range windows were compared"


def test_fast_overlay_scales_alertmanager_routes(tmp_path: Path) -> None:
    factor = 60
    generated = generate(tmp_path, factor=factor)
    source = load(ALERTMANAGER_DIR / "alertmanager.yml")
    local = load(generated.alertmanager_config)

    def walk(original: dict[str, Any], fast: dict[str, Any]) -> int:
        count = 0
        for key in ("group_wait", "group_interval", "repeat_interval"):
            assert (key in original) == (key in fast)
            if key in original:
                assert config.parse_duration(fast[key]) * factor == (
                    config.parse_duration(original[key])
                )
                count += 1
        for child, fast_child in zip(
            original.get("routes", []), fast.get("routes", []), strict=True
        ):
            count += walk(child, fast_child)
        return count

    assert walk(source["route"], local["route"]) == 6
    assert local["route"]["routes"][0]["repeat_interval"] == "1s"  # the Watchdog's


# -- Alertmanager --------------------------------------------------------------------------------
def test_alertmanager_copy_sends_everything_to_the_sink(tmp_path: Path) -> None:
    source = load(ALERTMANAGER_DIR / "alertmanager.yml")
    generated = generate(tmp_path)
    local = load(generated.alertmanager_config)
    directory = generated.alertmanager_dir
    sink = "http://127.0.0.1:19099"

    assert local["global"]["smtp_smarthost"] == "127.0.0.1:12525"
    assert local["global"]["smtp_require_tls"] is False
    assert local["templates"] == [str(ALERTMANAGER_DIR / "templates" / "*.tmpl")]
    receivers = {r["name"]: r for r in local["receivers"]}
    assert receivers["pagerduty-critical"]["pagerduty_configs"][0]["url"] == (
        f"{sink}/pagerduty/v2/enqueue?receiver=pagerduty-critical"
    )
    assert receivers["deadmansswitch"]["webhook_configs"][0]["url"] == (
        f"{sink}/deadmansswitch?receiver=deadmansswitch"
    )
    assert generated.email_receivers == {"hero-foundry-team@herofoundry.com": "team-email"}

    # The secrets Alertmanager reads relative to its working directory.
    secrets = directory / "secrets"
    assert (secrets / "slack_webhook_url").read_text() == f"{sink}/slack?receiver=team-slack"
    assert re.fullmatch(r"[0-9a-f]{32}", (secrets / "pagerduty_routing_key").read_text())
    password = (secrets / "smtp_password").read_text()
    assert password and not password.endswith("\n")
    for path in secrets.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600

    # Everything else is the repository's: routes, inhibitions, templates used, receivers' fields.
    expected = copy.deepcopy(source)
    expected["global"].update(smtp_smarthost="127.0.0.1:12525", smtp_require_tls=False)
    expected["templates"] = local["templates"]
    for receiver in expected["receivers"]:
        for pagerduty in receiver.get("pagerduty_configs", []):
            pagerduty["url"] = receivers[receiver["name"]]["pagerduty_configs"][0]["url"]
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = receivers[receiver["name"]]["webhook_configs"][0]["url"]
    assert local == expected


def test_a_receiver_the_sink_cannot_take_is_refused() -> None:
    source = {"receivers": [{"name": "ops", "opsgenie_configs": [{"api_key": "x"}]}]}
    with pytest.raises(ValueError, match="opsgenie_configs"):
        config.alertmanager_config(
            source,
            sink=config.SinkAddresses("http://127.0.0.1:1", "127.0.0.1:2"),
            templates=[],
            secret_values={},
        )


def test_a_second_generation_keeps_the_secrets_and_follows_the_ports(tmp_path: Path) -> None:
    first = generate(tmp_path)
    secrets = first.alertmanager_dir / "secrets"
    before = {p.name: p.read_text() for p in secrets.iterdir()}
    token = first.metrics_token_file.read_text()
    moved = Ports(**{**PORTS.__dict__, "sink": 29099})
    config.generate(REPO, tmp_path, ports=moved, components=SQLITE_COMPONENTS)
    after = {p.name: p.read_text() for p in secrets.iterdir()}
    assert first.metrics_token_file.read_text() == token
    assert after["pagerduty_routing_key"] == before["pagerduty_routing_key"]
    assert after["smtp_password"] == before["smtp_password"]
    assert after["slack_webhook_url"] == "http://127.0.0.1:29099/slack?receiver=team-slack"


# -- The real tools ------------------------------------------------------------------------------
@pytest.mark.parametrize("factor", [None, 60.0], ids=["real-durations", "fast"])
def test_generated_files_pass_promtool_and_amtool(tmp_path: Path, factor: float | None) -> None:
    promtool, amtool = tool("promtool"), tool("amtool")
    generated = generate(tmp_path, ALL_COMPONENTS, factor=factor)

    def run(*args: str | Path, cwd: Path | None = None) -> str:
        result = subprocess.run(
            [str(a) for a in args], capture_output=True, text=True, timeout=60, cwd=cwd
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout + result.stderr

    output = run(promtool, "check", "config", generated.prometheus_config, cwd=tmp_path)
    assert f"SUCCESS: {len(generated.rule_files)} rule files found" in output
    run(promtool, "check", "rules", *generated.generated_rules)
    output = run(amtool, "check-config", generated.alertmanager_config.name,
                 cwd=generated.alertmanager_dir)  # fmt: skip
    assert "SUCCESS" in output


def test_the_repository_files_are_not_modified(tmp_path: Path) -> None:
    def digest() -> dict[str, str]:
        return {
            str(p.relative_to(REPO)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((REPO / "monitoring").rglob("*"))
            if p.is_file()
        }

    before = digest()
    generate(tmp_path)
    generate(tmp_path, ALL_COMPONENTS, factor=60)
    assert digest() == before
    assert not (ALERTMANAGER_DIR / "secrets" / "slack_webhook_url").exists() or (
        "127.0.0.1" not in (ALERTMANAGER_DIR / "secrets" / "slack_webhook_url").read_text()
    )
