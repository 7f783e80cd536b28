"""The local stack's Prometheus and Alertmanager configuration, generated from the repository's.

Pure functions over the parsed YAML of ``monitoring/`` (plus :func:`generate`, which reads
those files and writes the results under ``<state>/stack/``). Only addresses, credentials and
receivers' URLs are substituted:

- Prometheus: every job's targets become ``127.0.0.1:<port>`` of the local process; the api's
  scrape token is a local secret file; alerts go to the local Alertmanager; the rule files are
  the repository's own (absolute paths), or a generated copy where something had to change.
- Jobs whose component does not run locally (``react-frontend`` when the web front end is not built,
  ``postgresql``/``redis`` when the api uses SQLite/its in-process cache, an exporter that is not
  installed) are left out, and so are their ``absent(up{job="..."})`` terms in TargetMissing:
  nothing is reported down that is not meant to run.
- Alertmanager: Slack, PagerDuty, the dead man's switch webhook and SMTP point at the local
  notification sink (:mod:`hero_foundry.stack.sink`); secrets are local files.

The fast mode (end-to-end tests) is an overlay of the same files: scrape and evaluation every
second, every duration of the rules (``for``, ``keep_firing_for``, a group's ``interval``, range
windows, subqueries and offsets) and Alertmanager's ``group_wait``, ``group_interval`` and
``repeat_interval`` divided by a factor. One floor: an alert on ``absent(...)`` keeps a ``for:``
of at least :data:`FAST_ABSENT_MIN_FOR` (Prometheus needs that long after a start to scrape
anything at all).
"""

from __future__ import annotations

import copy
import re
import secrets
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

PROMETHEUS_DIR = Path("monitoring/prometheus")
ALERTMANAGER_DIR = Path("monitoring/alertmanager")

LOOPBACK = "127.0.0.1"
#: Scrape and evaluation interval of the fast mode.
FAST_INTERVAL = "1s"
#: The fast mode's default factor: 5m becomes 5s, 1m becomes 1s.
FAST_FACTOR = 60.0
#: Fast mode: jobs scraped less often than every :data:`FAST_INTERVAL`, because their exporter
#: needs about a second to answer while its server is down. postgres_exporter sleeps 1 s after a
#: failed connection before it answers ``pg_up 0``: scraped every second (so with a 1 s timeout)
#: that scrape times out, ``up`` is 0 and ServiceDown of the exporter fires instead of
#: PostgreSQLDown (the production job is scraped every 30 s with a 10 s timeout).
FAST_SLOW_JOBS = {"postgresql": "2s"}
#: The shortest ``for:`` of an alert on ``absent(...)`` in the fast mode. Prometheus applies
#: newly discovered targets every 5 s, so for up to about 10 s after it starts no job has an
#: ``up`` series: TargetMissing (5m / 60 = 5s) would fire at every start of the stack.
FAST_ABSENT_MIN_FOR = "20s"
#: The shortest ``for:`` of any alert in the fast mode: three scrapes. Scaled by 60, ServiceDown's
#: 1m is one second, so one slow scrape of a busy machine (a timeout of the 1 s interval) and the
#: next would page; production's ``for: 1m`` spans six scrapes of the api.
FAST_MIN_FOR = "3s"
#: The shortest ``keep_firing_for:`` in the fast mode. The fast windows (5m -> 5 s) hold a few
#: dozen requests, so a 10 % error ratio dips under 5 % for seconds at a time; production's
#: 5-minute windows hold thousands.
FAST_MIN_KEEP_FIRING_FOR = "10s"

#: The scrape jobs of prometheus.yml and the local component each one scrapes.
JOB_COMPONENTS = {
    "prometheus": "prometheus",
    "fastapi-backend": "api",
    "react-frontend": "web",
    "postgresql": "postgres-exporter",
    "redis": "redis-exporter",
    "node-exporter": "node-exporter",
    "alertmanager": "alertmanager",
}

# Sink paths (hero_foundry.stack.sink serves them).
SLACK_PATH = "/slack"
PAGERDUTY_PATH = "/pagerduty/v2/enqueue"  # the Events API v2 path
DEADMANSSWITCH_PATH = "/deadmansswitch"
WEBHOOK_PATH = "/webhook"
DEADMANSSWITCH_RECEIVER = "deadmansswitch"


# -- Ports ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ports:
    """Where each local process listens (all on 127.0.0.1)."""

    api: int = 8000
    prometheus: int = 9090
    alertmanager: int = 9093
    sink: int = 9099
    smtp: int = 2525
    node_exporter: int = 9100
    postgres_exporter: int = 9187
    redis_exporter: int = 9121
    web: int = 3000

    @classmethod
    def free(cls) -> Ports:
        """Ports nothing listens on now (for tests), see :func:`free_ports`."""
        return cls(*free_ports(len(fields(cls))))

    def of(self, component: str) -> int:
        """The port of a component by its process name (``node-exporter``, ``sink``...)."""
        return getattr(self, component.replace("-", "_"))

    def address(self, component: str) -> str:
        return f"{LOOPBACK}:{self.of(component)}"


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux; 32768 elsewhere)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports nothing listens on now, chosen at random BELOW the
    kernel's ephemeral range. An ephemeral port (``bind(0)``) can be taken as the source port of
    any outgoing connection (a scrape, a client) while its component is stopped, and its restart
    then finds the port in use: the tests kill and restart the api on the same port."""
    low = _ephemeral_low()
    first = max(1024, low - 20000)
    if low - first < 1000:  # an unusual range: ephemeral ports it is
        first, low = 0, 0
    rng = secrets.SystemRandom()
    sockets: list[socket.socket] = []
    attempts = 0
    try:
        while len(sockets) < count:
            attempts += 1
            random_port = low and attempts <= 100 * count  # else let the kernel choose
            sock = socket.socket()
            try:
                sock.bind((LOOPBACK, rng.randrange(first, low) if random_port else 0))
            except OSError:
                sock.close()
                continue
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


# -- Durations -----------------------------------------------------------------------------------
_UNITS_MS = {"y": 365 * 86_400_000, "w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000,
             "m": 60_000, "s": 1000, "ms": 1}  # fmt: skip
_DURATION = r"(?:\d+(?:ms|[ywdhms]))+"
_DURATION_PART = re.compile(r"(\d+)(ms|[ywdhms])")


def parse_duration(text: str) -> int:
    """A Prometheus duration (``5m``, ``1h30m``, ``500ms``) in milliseconds."""
    text = text.strip()
    if not re.fullmatch(_DURATION, text):
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _UNITS_MS[unit] for n, unit in _DURATION_PART.findall(text))


def format_duration(milliseconds: int) -> str:
    """Milliseconds as a Prometheus duration: ``1h12m``, ``5s``, ``500ms``, ``0s``."""
    if milliseconds <= 0:
        return "0s"
    parts = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, milliseconds = divmod(milliseconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def scale_duration(text: str, factor: float) -> str:
    """``text`` divided by ``factor`` (at least 1 ms unless it was 0)."""
    milliseconds = parse_duration(text)
    if milliseconds == 0:
        return "0s"
    return format_duration(max(1, round(milliseconds / factor)))


# PromQL string literals, where a bracket or "offset" is text, not syntax.
_STRING = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`""")
_RANGE = re.compile(rf"\[(\s*)({_DURATION})(\s*)(?:(:)(\s*)({_DURATION})?(\s*))?\]")
_OFFSET = re.compile(rf"\b(offset\s+-?)({_DURATION})\b")


def scale_expr(expr: str, factor: float) -> str:
    """A PromQL expression with its range windows, subquery steps and offsets divided by
    ``factor`` (string literals are left alone)."""

    def ranges(match: re.Match[str]) -> str:
        pre, window, mid, colon, space, step, post = (g or "" for g in match.groups())
        step = scale_duration(step, factor) if step else ""
        return f"[{pre}{scale_duration(window, factor)}{mid}{colon}{space}{step}{post}]"

    def code(part: str) -> str:
        part = _RANGE.sub(ranges, part)
        return _OFFSET.sub(lambda m: m.group(1) + scale_duration(m.group(2), factor), part)

    out, position = [], 0
    for literal in _STRING.finditer(expr):
        out.append(code(expr[position : literal.start()]))
        out.append(literal.group(0))
        position = literal.end()
    out.append(code(expr[position:]))
    return "".join(out)


# -- Prometheus ----------------------------------------------------------------------------------
_SD_CONFIGS = re.compile(r".+_sd_configs$")


def local_targets(ports: Ports, components: Iterable[str]) -> dict[str, list[str]]:
    """job -> its local target, for the jobs whose component runs (``components``)."""
    running = set(components)
    return {
        job: [ports.address(component)]
        for job, component in JOB_COMPONENTS.items()
        if component in running
    }


def prometheus_config(
    source: Mapping[str, Any],
    *,
    targets: Mapping[str, list[str]],
    token_file: Path,
    alertmanager: str,
    rule_files: list[str],
    fast: bool = False,
) -> dict[str, Any]:
    """The local copy of prometheus.yml: jobs of ``targets`` only, pointed at them."""
    config = copy.deepcopy(dict(source))
    jobs = []
    for job in config.get("scrape_configs") or []:
        name = job["job_name"]
        if name not in targets:
            continue
        labels = [sc.get("labels") for sc in job.get("static_configs") or [] if sc]
        for key in [k for k in job if _SD_CONFIGS.fullmatch(k)]:
            del job[key]  # service discovery has nothing to find here
        static: dict[str, Any] = {"targets": list(targets[name])}
        if labels and labels[0]:
            static["labels"] = labels[0]
        job["static_configs"] = [static]
        authorization = job.get("authorization")
        if isinstance(authorization, dict) and "credentials_file" in authorization:
            authorization["credentials_file"] = str(token_file)
        if fast:
            job["scrape_interval"] = FAST_SLOW_JOBS.get(name, FAST_INTERVAL)
            job.pop("scrape_timeout", None)  # at most the interval: Prometheus' default
            if name in FAST_SLOW_JOBS:  # else the global timeout, the global 1 s interval
                job["scrape_timeout"] = FAST_SLOW_JOBS[name]
        jobs.append(job)
    config["scrape_configs"] = jobs
    config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    config["rule_files"] = list(rule_files)
    if fast:
        config.setdefault("global", {})
        config["global"]["scrape_interval"] = FAST_INTERVAL
        config["global"]["evaluation_interval"] = FAST_INTERVAL
        config["global"].pop("scrape_timeout", None)
    return config


def left_out_jobs(source: Mapping[str, Any], targets: Mapping[str, Any]) -> list[str]:
    return [
        j["job_name"] for j in source.get("scrape_configs") or [] if j["job_name"] not in targets
    ]


_ABSENT_UP = re.compile(r'absent\(\s*up\s*\{\s*job\s*=\s*"([^"]+)"\s*\}\s*\)')


def without_absent_terms(expr: str, jobs: set[str]) -> str | None:
    """``expr`` without its ``absent(up{job="X"})`` terms for the ``jobs`` (TargetMissing is an
    ``or`` of one such term per job). None when no term is left; ``expr`` itself when it is not
    such a chain and names none of ``jobs``."""
    terms = [term.strip() for term in re.split(r"\bor\b", expr)]
    named = set(_ABSENT_UP.findall(expr))
    if not all(_ABSENT_UP.fullmatch(term) for term in terms):
        if named & jobs:
            raise ValueError(
                f"cannot remove absent() terms of {sorted(named & jobs)} from {expr!r}"
            )
        return expr
    kept = [term for term in terms if _ABSENT_UP.fullmatch(term).group(1) not in jobs]  # type: ignore[union-attr]
    if len(kept) == len(terms):
        return expr
    return "\nor ".join(kept) + "\n" if kept else None


def _fast_floor(scaled: str, original: str, floor: str) -> str:
    """``scaled``, raised to ``floor`` but never above ``original``."""
    minimum = min(parse_duration(floor), parse_duration(original))
    return format_duration(minimum) if parse_duration(scaled) < minimum else scaled


def local_rules(
    source: Mapping[str, Any],
    *,
    left_out: Iterable[str] = (),
    factor: float | None = None,
    runbook_base: str | None = None,
) -> dict[str, Any]:
    """A rule file for the local Prometheus: TargetMissing-style ``absent(up{job=...})`` terms
    of left-out jobs removed (a rule left with none is dropped), with ``factor`` every duration
    divided by it (with the floors above), with ``runbook_base`` every alert's ``runbook_url``
    pointed at the local runbook server (``<base><Alert>.md``)."""
    jobs = set(left_out)
    rules_file = copy.deepcopy(dict(source))
    for group in rules_file.get("groups") or []:
        if factor and "interval" in group:
            group["interval"] = scale_duration(str(group["interval"]), factor)
        kept = []
        for rule in group.get("rules") or []:
            expr = without_absent_terms(str(rule["expr"]), jobs) if jobs else str(rule["expr"])
            if expr is None:
                continue
            if factor:
                expr = scale_expr(expr, factor)
                if "for" in rule:
                    original = str(rule["for"])
                    floor = FAST_ABSENT_MIN_FOR if "absent(" in expr else FAST_MIN_FOR
                    rule["for"] = _fast_floor(scale_duration(original, factor), original, floor)
                if "keep_firing_for" in rule:
                    original = str(rule["keep_firing_for"])
                    rule["keep_firing_for"] = _fast_floor(
                        scale_duration(original, factor), original, FAST_MIN_KEEP_FIRING_FOR
                    )
            if expr != str(rule["expr"]):
                rule["expr"] = expr
            annotations = rule.get("annotations")
            if runbook_base and isinstance(annotations, dict) and "runbook_url" in annotations:
                annotations["runbook_url"] = f"{runbook_base}{rule['alert']}.md"
            kept.append(rule)
        group["rules"] = kept
    return rules_file


# -- Alertmanager --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SinkAddresses:
    """Where the local notification sink listens."""

    http: str  # http://127.0.0.1:9099
    smtp: str  # 127.0.0.1:2525

    def url(self, path: str, receiver: str) -> str:
        return f"{self.http}{path}?receiver={receiver}"


@dataclass
class AlertmanagerSecrets:
    """The files the local Alertmanager reads (relative to its working directory) and their
    content, plus which receiver each e-mail address belongs to (for the sink)."""

    files: dict[str, str] = field(default_factory=dict)
    email_receivers: dict[str, str] = field(default_factory=dict)


_ROUTE_DURATIONS = ("group_wait", "group_interval", "repeat_interval")
_SUPPORTED = {"slack_configs", "pagerduty_configs", "email_configs", "webhook_configs"}


def _scale_routes(route: dict[str, Any], factor: float) -> None:
    for key in _ROUTE_DURATIONS:
        if key in route:
            route[key] = scale_duration(str(route[key]), factor)
    for child in route.get("routes") or []:
        _scale_routes(child, factor)


def alertmanager_config(
    source: Mapping[str, Any],
    *,
    sink: SinkAddresses,
    templates: list[str],
    secret_values: Mapping[str, str],
    factor: float | None = None,
) -> tuple[dict[str, Any], AlertmanagerSecrets]:
    """The local copy of alertmanager.yml: every notification goes to the sink.

    ``secret_values`` gives the content of the PagerDuty routing key and SMTP password files
    (by their path in the configuration); the Slack URL files get the sink's URL."""
    config = copy.deepcopy(dict(source))
    out = AlertmanagerSecrets()
    glob = config.setdefault("global", {})
    glob["smtp_smarthost"] = sink.smtp
    glob["smtp_require_tls"] = False  # the sink's SMTP has no STARTTLS (loopback only)
    for key in ("smtp_auth_password_file",):
        if key in glob:
            out.files[glob[key]] = secret_values.get(glob[key], "")
    config["templates"] = list(templates)
    for receiver in config.get("receivers") or []:
        name = receiver["name"]
        unsupported = {k for k in receiver if k.endswith("_configs")} - _SUPPORTED
        if unsupported:
            raise ValueError(
                f"receiver {name}: {sorted(unsupported)} cannot be pointed at the local sink"
            )
        for slack in receiver.get("slack_configs") or []:
            url = sink.url(SLACK_PATH, name)
            if "api_url_file" in slack:
                out.files.setdefault(slack["api_url_file"], url)
            else:
                slack["api_url"] = url
        for pagerduty in receiver.get("pagerduty_configs") or []:
            pagerduty["url"] = sink.url(PAGERDUTY_PATH, name)
            for key in ("routing_key_file", "service_key_file"):
                if key in pagerduty:
                    out.files[pagerduty[key]] = secret_values.get(pagerduty[key], "")
            for key in ("routing_key", "service_key"):
                if key in pagerduty:
                    pagerduty[key] = secret_values.get(key, secrets.token_hex(16))
        for mail in receiver.get("email_configs") or []:
            if "smarthost" in mail:
                mail["smarthost"] = sink.smtp
            if "require_tls" in mail:
                mail["require_tls"] = False
            for key in ("auth_password_file",):
                if key in mail:
                    out.files[mail[key]] = secret_values.get(mail[key], "")
            for address in str(mail.get("to", "")).split(","):
                if address.strip():
                    out.email_receivers[address.strip().lower()] = name
        for webhook in receiver.get("webhook_configs") or []:
            path = DEADMANSSWITCH_PATH if name == DEADMANSSWITCH_RECEIVER else WEBHOOK_PATH
            webhook.pop("url_file", None)
            webhook["url"] = sink.url(path, name)
    if factor:
        _scale_routes(config.setdefault("route", {}), factor)
    return config, out


# -- Writing the files ---------------------------------------------------------------------------
class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(document: Any, header: str = "") -> str:
    text = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    comment = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    return comment + text


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Generated:
    """What :func:`generate` wrote."""

    prometheus_config: Path
    rule_files: list[Path]  # the files Prometheus loads (repository's or generated)
    generated_rules: list[Path]  # those of them generated under the state directory
    alertmanager_config: Path
    alertmanager_dir: Path  # Alertmanager's working directory (secrets/ is relative to it)
    metrics_token_file: Path
    left_out_jobs: list[str]
    email_receivers: dict[str, str]


def _secret(path: Path, make: Any) -> str:
    """The content of a local secret file, created (mode 0600, no newline) when missing, so a
    second run keeps the same values."""
    if path.is_file():
        return path.read_text(encoding="utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    path.touch(mode=0o600)
    path.write_text(value, encoding="utf-8")
    return value


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def generate(
    root: Path,
    state_dir: Path,
    *,
    ports: Ports,
    components: Iterable[str],
    factor: float | None = None,
) -> Generated:
    """Write the local Prometheus and Alertmanager configuration under ``state_dir/stack``
    from the repository ``root``'s monitoring/ files (never modified), for the ``components``
    that run (process names: api, prometheus, alertmanager, node-exporter, ...)."""
    root, state_dir = root.resolve(), state_dir.resolve()
    stack = state_dir / "stack"
    components = set(components)
    fast = f" (fast mode: durations / {factor:g}, intervals {FAST_INTERVAL})" if factor else ""

    # -- Prometheus --------------------------------------------------------------------------
    source_dir = root / PROMETHEUS_DIR
    source = load(source_dir / "prometheus.yml")
    targets = local_targets(ports, components)
    left_out = left_out_jobs(source, targets)
    token_file = stack / "secrets" / "metrics_token"
    _secret(token_file, lambda: secrets.token_urlsafe(32))

    # Runbook links of local alerts open the local sink's runbook pages.
    runbook_base = f"http://{ports.address('sink')}/runbooks/" if "sink" in components else None
    rules_out = stack / "prometheus" / "rules"
    for stale in rules_out.glob("*.yml") if rules_out.is_dir() else []:
        stale.unlink()
    rule_files: list[Path] = []
    generated_rules: list[Path] = []
    for pattern in source.get("rule_files") or []:
        for path in sorted(source_dir.glob(pattern)):
            original = load(path)
            local = local_rules(
                original, left_out=left_out, factor=factor, runbook_base=runbook_base
            )
            if local == original:
                rule_files.append(path)
                continue
            out = rules_out / path.name
            header = (
                f"Generated by `hero-foundry up` from {path.relative_to(root)}{fast}.\n"
                "absent(up{job=...}) terms of the jobs that do not run here are removed: "
                f"{', '.join(left_out) or 'none'}; runbook links point at {runbook_base}.\n"
                "Do not edit: it is written again at every start."
            )
            _write(out, dump(local, header))
            rule_files.append(out)
            generated_rules.append(out)

    config = prometheus_config(
        source,
        targets=targets,
        token_file=token_file,
        alertmanager=ports.address("alertmanager"),
        rule_files=[str(p) for p in rule_files],
        fast=bool(factor),
    )
    prometheus_file = stack / "prometheus" / "prometheus.yml"
    _write(
        prometheus_file,
        dump(
            config,
            f"Generated by `hero-foundry up` from {PROMETHEUS_DIR / 'prometheus.yml'}{fast}:\n"
            f"local targets, scrape token and Alertmanager. Left out (not running here): "
            f"{', '.join(left_out) or 'none'}.\nDo not edit: it is written again at every start.",
        ),
    )

    # -- Alertmanager ------------------------------------------------------------------------
    am_source_dir = root / ALERTMANAGER_DIR
    am_source = load(am_source_dir / "alertmanager.yml")
    am_dir = stack / "alertmanager"
    templates = [
        str((am_source_dir / t).resolve()) if not Path(t).is_absolute() else t
        for t in am_source.get("templates") or []
    ]
    sink = SinkAddresses(f"http://{ports.address('sink')}", ports.address("smtp"))

    def value_for(relative: str, make: Any) -> str:
        return _secret(am_dir / relative, make)

    secret_values: dict[str, str] = {}
    for relative in _secret_file_paths(am_source):
        kind = Path(relative).name
        if "routing_key" in kind or "service_key" in kind:
            secret_values[relative] = value_for(relative, lambda: secrets.token_hex(16))
        elif "password" in kind:
            secret_values[relative] = value_for(relative, lambda: secrets.token_urlsafe(24))
    am_config, am_secrets = alertmanager_config(
        am_source, sink=sink, templates=templates, secret_values=secret_values, factor=factor
    )
    for relative, content in am_secrets.files.items():
        _write(am_dir / relative, content, 0o600)
    alertmanager_file = am_dir / "alertmanager.yml"
    _write(
        alertmanager_file,
        dump(
            am_config,
            f"Generated by `hero-foundry up` from {ALERTMANAGER_DIR / 'alertmanager.yml'}{fast}:\n"
            "Slack, PagerDuty, e-mail and the dead man's switch go to the local notification sink "
            f"({sink.http}, SMTP {sink.smtp}).\nRun with this directory as the working "
            "directory (secrets/ is relative to it). Do not edit: written again at every start.",
        ),
    )
    return Generated(
        prometheus_config=prometheus_file,
        rule_files=rule_files,
        generated_rules=generated_rules,
        alertmanager_config=alertmanager_file,
        alertmanager_dir=am_dir,
        metrics_token_file=token_file,
        left_out_jobs=left_out,
        email_receivers=am_secrets.email_receivers,
    )


def _secret_file_paths(config: Mapping[str, Any]) -> list[str]:
    """Every ``*_file`` value of the Alertmanager configuration except the Slack URL files
    (their content is the sink's URL, not a secret to make up)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key.endswith("_file") and isinstance(value, str) and key != "api_url_file":
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return list(dict.fromkeys(found))
