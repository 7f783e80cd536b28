"""Runbooks (``monitoring/runbooks/<Alert>.md``): parsed into sections and command blocks, and
checked against the format of ``monitoring/runbooks/README.md``.

A runbook is the alert's name as title, a header line (severity, service, ``for``, threshold,
rule file, dashboard), then exactly the sections of :data:`SECTIONS`, in that order. Commands
are fenced blocks whose info string says where they apply:

- ```` ```sh ````: every environment (they use only the variables the prerequisites set);
- ```` ```sh local ````, ```` ```sh compose ````, ```` ```sh kubernetes ````: that environment
  only.

Every section has commands for each environment of :data:`ENVIRONMENTS`: plain blocks, or
environment blocks for all three. ``Prerequisites`` has exactly one block per environment and
sets every variable the page's blocks of that environment use; the local one sources the
stack's ``env.sh`` (``hero_foundry.stack.supervisor``). :func:`check` returns the problems of
one page, each naming the page and the section; :func:`check_promql` has promtool parse every
``promtool query instant "$PROM" '<expr>'``. ``tests/monitoring/test_runbooks.py`` runs both;
``tests/e2e/test_runbooks.py`` runs every local command against a live stack
(:func:`local_script`).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

#: The sections of every runbook, in this order.
SECTIONS = (
    "Prerequisites",
    "Meaning",
    "Impact",
    "First checks",
    "Diagnosis",
    "Mitigation",
    "Escalation",
    "Verify recovery",
)
#: Where the system runs: the local stack (``make run``), ``deploy/compose.yaml``, Kubernetes.
ENVIRONMENTS = ("local", "compose", "kubernetes")
#: The fence language of a command block.
COMMAND_LANGUAGE = "sh"
#: Fence languages that look like commands but are not the format's.
_OTHER_SHELLS = {"bash", "shell", "console", "zsh", "shell-session"}

#: The local prerequisites' two lines: the repository's root, then the stack's variables.
REPOSITORY_ROOT = 'cd "$(git rev-parse --show-toplevel)"'
ENV_SH = '. "${HERO_FOUNDRY_STATE_DIR:-var}/stack/env.sh"'
_SOURCES_ENV_SH = re.compile(
    r"^\s*(?:\.|source)\s+\"\$\{HERO_FOUNDRY_STATE_DIR:-var\}/stack/env\.sh\"\s*(?:#.*)?$",
    re.MULTILINE,
)

#: Set by the shell or the login itself: never a prerequisite.
ALWAYS_SET = frozenset({"HOME", "PATH", "PWD", "OLDPWD", "USER", "RANDOM", "SECONDS"})

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([^`]*?)\s*$")
#: ``promtool query instant "$PROM" '<expr>'`` (the expression in single quotes, any lines).
_PROMTOOL_QUERY = re.compile(r"promtool\s+query\s+instant\s+\"\$PROM\"\s+'([^']*)'")
_ANY_PROMTOOL_QUERY = re.compile(r"promtool\s+query\b")


def env_sh_variables() -> tuple[str, ...]:
    """The variables the local stack's ``env.sh`` always exports."""
    from hero_foundry.stack.supervisor import ENV_SH_VARIABLES

    return ENV_SH_VARIABLES


# -- Parsing --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Block:
    """One fenced command block."""

    section: str
    #: ``local``, ``compose``, ``kubernetes``; None: every environment (```` ```sh ````).
    environment: str | None
    code: str
    #: The line of the opening fence (1-based).
    line: int

    def applies_to(self, environment: str) -> bool:
        return self.environment is None or self.environment == environment

    @property
    def fence(self) -> str:
        return f"```{COMMAND_LANGUAGE}" + (f" {self.environment}" if self.environment else "")

    def where(self, runbook: str) -> str:
        return f"{runbook}, section {self.section!r}, {self.fence} block at line {self.line}"


@dataclass
class Section:
    name: str
    line: int
    text: str = ""
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Runbook:
    #: The page's name: the alert (``HighErrorRate``).
    name: str
    title: str | None
    header: str
    sections: list[Section]
    #: What the parser refused (an unknown fence info string, an unclosed fence).
    parse_problems: list[str] = field(default_factory=list)

    @property
    def file(self) -> str:
        return f"{self.name}.md"

    def section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)

    def prerequisites(self, environment: str) -> list[Block]:
        section = self.section("Prerequisites")
        if section is None:
            return []
        return [b for b in section.blocks if b.environment == environment]

    def commands(self, environment: str) -> list[Block]:
        """Every block after ``Prerequisites`` that applies to ``environment``, in page order."""
        return [
            block
            for section in self.sections
            if section.name != "Prerequisites"
            for block in section.blocks
            if block.applies_to(environment)
        ]

    def blocks(self) -> list[Block]:
        return [block for section in self.sections for block in section.blocks]


def parse(text: str, name: str = "runbook") -> Runbook:
    """Split a runbook into its title, header and ``##`` sections with their command blocks."""
    lines = text.splitlines()
    title: str | None = None
    header: list[str] = []
    sections: list[Section] = []
    problems: list[str] = []
    fence: tuple[str, int, str, int] | None = None  # marker, indent, info, opening line
    body: list[str] = []
    for number, line in enumerate(lines, start=1):
        if fence is not None:
            marker, indent, info, start = fence
            closing = _FENCE.match(line)
            if (
                closing
                and closing.group(2)[0] == marker[0]
                and len(closing.group(2)) >= len(marker)
                and not closing.group(3)
            ):
                _add_block(name, sections, problems, info, "\n".join(body), start)
                fence, body = None, []
            else:
                body.append(line[indent:] if line[:indent].strip() == "" else line.lstrip())
            continue
        opening = _FENCE.match(line)
        if opening:
            fence = (opening.group(2), len(opening.group(1)), opening.group(3), number)
            continue
        if line.startswith("# ") and title is None and not sections:
            title = line[2:].strip()
        elif line.startswith("## "):
            sections.append(Section(line[3:].strip(), number))
        elif sections:
            sections[-1].text += line + "\n"
        elif title is not None:
            header.append(line)
    if fence is not None:
        problems.append(f"{name}.md: the fence opened at line {fence[3]} is never closed")
    return Runbook(name, title, "\n".join(header).strip(), sections, problems)


def _add_block(
    name: str, sections: list[Section], problems: list[str], info: str, code: str, line: int
) -> None:
    words = info.split()
    where = f"{name}.md, section {sections[-1].name!r}" if sections else f"{name}.md"
    if not words:
        return  # an output sample, not commands
    if words[0] in _OTHER_SHELLS:
        problems.append(
            f"{where}, line {line}: command blocks are ```{COMMAND_LANGUAGE} or "
            f"```{COMMAND_LANGUAGE} <{'|'.join(ENVIRONMENTS)}>, not ```{info}"
        )
        return
    if words[0] != COMMAND_LANGUAGE:
        return  # json, yaml, text ...: not commands
    environment = words[1] if len(words) > 1 else None
    if len(words) > 2 or (environment is not None and environment not in ENVIRONMENTS):
        problems.append(
            f"{where}, line {line}: unknown environment in ```{info} "
            f"(one of {', '.join(ENVIRONMENTS)}, or none for every environment)"
        )
        return
    if not sections:
        problems.append(f"{where}, line {line}: a command block before the first section")
        return
    sections[-1].blocks.append(Block(sections[-1].name, environment, code, line))


def load(path: Path) -> Runbook:
    return parse(path.read_text(encoding="utf-8"), path.stem)


def runbook_files(directory: Path) -> list[Path]:
    """Every runbook of a directory: each ``*.md`` but its README."""
    return sorted(p for p in directory.glob("*.md") if p.name != "README.md")


def alert_names(rules_dir: Path) -> set[str]:
    """Every alert of the rule files (``*.yml``) of a directory."""
    names = set()
    for path in sorted(rules_dir.glob("*.yml")):
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups") or []:
            for rule in group.get("rules") or []:
                if "alert" in rule:
                    names.add(rule["alert"])
    return names


# -- Shell variables ------------------------------------------------------------------------------
_QUOTED_HEREDOC = re.compile(r"<<-?\s*(['\"])(\w+)\1[^\n]*\n(.*?)^\s*\2\s*$", re.S | re.M)
_DEFAULTED = (":-", "-", ":=", "=", ":+", "+")


def _scan(code: str) -> tuple[set[str], str]:
    """(variables expanded, skeleton): the names of ``$NAME`` / ``${NAME...}`` the shell would
    expand (not in single quotes, comments or quoted here-documents; ``${NAME:-default}`` and
    the like do not need NAME), and the code with quoted text and comments blanked out."""
    code = _QUOTED_HEREDOC.sub(lambda m: m.group(0).split("\n", 1)[0] + "\n", code)
    uses: set[str] = set()
    skeleton: list[str] = []
    stack = ["code"]  # code (top level or inside $( ) / ( )), double (inside "...")
    i, n = 0, len(code)
    while i < n:
        c, state = code[i], stack[-1]
        if c == "\\":
            skeleton.append("  " if state == "double" else code[i : i + 2])
            i += 2
            continue
        if state == "code":
            if c == "'":
                end = code.find("'", i + 1)
                i = n if end < 0 else end + 1
                skeleton.append("Q")
                continue
            if c == "#" and (i == 0 or code[i - 1] in " \t\n;&|()"):
                end = code.find("\n", i)
                i = n if end < 0 else end
                continue
            if c == '"':
                stack.append("double")
                skeleton.append("Q")
                i += 1
                continue
            if c == "(":
                stack.append("code")
            elif c == ")" and len(stack) > 1:
                stack.pop()
        elif c == '"':
            stack.pop()
            i += 1
            continue
        if c == "$":
            following = code[i + 1 : i + 2]
            if following == "(":
                stack.append("code")
                if state == "code":
                    skeleton.append("$(")
                i += 2
                continue
            if following == "{":
                end = code.find("}", i)
                end = n if end < 0 else end
                match = re.match(rf"#?({_NAME})(.*)", code[i + 2 : end], re.S)
                if match and not match.group(2).startswith(_DEFAULTED):
                    uses.add(match.group(1))
                i = end + 1
            else:
                match = re.match(_NAME, code[i + 1 :])
                if match:
                    uses.add(match.group(0))
                    i += 1 + match.end(0)
                else:
                    i += 2  # $?, $#, $@, $1 ...: the shell's own
            if state == "code":
                skeleton.append("V")
            continue
        if state == "code":
            skeleton.append(c)
        i += 1
    return uses, "".join(skeleton)


def variables_used(code: str) -> set[str]:
    """The variables a block expands, without those the shell always sets."""
    return _scan(code)[0] - ALWAYS_SET


_COMMAND_SPLIT = re.compile(r"[;\n&|(){}`]|\$\(")
_KEYWORDS = {"then", "do", "else", "elif", "if", "while", "until", "!", "time"}
_DECLARE = {"export", "local", "readonly", "declare", "typeset"}


def variables_assigned(code: str) -> set[str]:
    """The variables a block sets: ``NAME=...``, ``export NAME[=...]``, ``local``/``readonly``,
    ``for NAME in``, ``read NAME ...``."""
    names: set[str] = set()
    for command in _COMMAND_SPLIT.split(_scan(code)[1]):
        words = command.split()
        while words and words[0] in _KEYWORDS:
            words = words[1:]
        if not words:
            continue
        if words[0] in _DECLARE:
            for word in words[1:]:
                match = re.match(rf"({_NAME})(?:\+?=|$)", word)
                if match and not word.startswith("-"):
                    names.add(match.group(1))
            continue
        if words[0] == "for" and len(words) > 1 and re.fullmatch(_NAME, words[1]):
            names.add(words[1])
            continue
        if words[0] == "read":
            names.update(w for w in words[1:] if re.fullmatch(_NAME, w))
            continue
        for word in words:
            match = re.match(rf"({_NAME})\+?=", word)
            if not match:
                break
            names.add(match.group(1))
    return names


def sources_env_sh(code: str) -> bool:
    return bool(_SOURCES_ENV_SH.search(code))


def provided(runbook: Runbook, environment: str) -> set[str]:
    """What the prerequisites of ``environment`` set (``env.sh``'s variables included)."""
    out: set[str] = set()
    for block in runbook.prerequisites(environment):
        out |= variables_assigned(block.code)
        if sources_env_sh(block.code):
            out |= set(env_sh_variables())
    return out


# -- PromQL ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Query:
    block: Block
    expression: str


def promql_queries(runbook: Runbook) -> list[Query]:
    """Every ``promtool query instant "$PROM" '<expr>'`` of the page's command blocks."""
    return [
        Query(block, match.group(1).strip())
        for block in runbook.blocks()
        for match in _PROMTOOL_QUERY.finditer(block.code)
    ]


def check_promql(runbooks: Sequence[Runbook], promtool: str) -> list[str]:
    """Have promtool parse every query of the pages (as recording rules of one rule file per
    page): the problems, each naming the page, the section and the expression."""
    problems = []
    with tempfile.TemporaryDirectory(prefix="runbook-promql-") as tmp:
        for runbook in runbooks:
            queries = promql_queries(runbook)
            if not queries:
                continue
            rules = [
                {"record": f"runbook:query_{index}", "expr": query.expression}
                for index, query in enumerate(queries)
            ]
            path = Path(tmp) / f"{runbook.name}.yml"
            groups = {"groups": [{"name": f"runbook-{runbook.name}", "rules": rules}]}
            path.write_text(yaml.safe_dump(groups, sort_keys=False))
            result = subprocess.run(
                [promtool, "check", "rules", str(path)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if result.returncode == 0:
                continue
            output = result.stdout + result.stderr
            named = {int(i) for i in re.findall(r'"runbook:query_(\d+)"', output)}
            for index in sorted(named) or range(len(queries)):
                query = queries[index]
                errors = [line.strip() for line in output.splitlines() if f'_{index}"' in line]
                problems.append(
                    f"{query.block.where(runbook.file)}: promtool cannot parse "
                    f"{query.expression!r}: {' '.join(errors) or output.strip()}"
                )
    return problems


# -- The format -----------------------------------------------------------------------------------
def check(runbook: Runbook) -> list[str]:
    """Every way the page departs from the format (``monitoring/runbooks/README.md``), each
    naming the page and the section; empty when it is right. The parts:
    :func:`check_structure`, :func:`check_commands`, :func:`check_prerequisites`,
    :func:`check_variables`, :func:`check_contents` (and :func:`check_promql`, which runs
    promtool)."""
    return [
        *check_structure(runbook),
        *check_commands(runbook),
        *check_prerequisites(runbook),
        *check_variables(runbook),
        *check_contents(runbook),
    ]


def check_structure(runbook: Runbook) -> list[str]:
    """The title, the header line and exactly :data:`SECTIONS`, in order; fences the parser
    refused."""
    page = runbook.file
    problems = list(runbook.parse_problems)
    if runbook.title != runbook.name:
        problems.append(f"{page}: the title must be '# {runbook.name}', not {runbook.title!r}")
    if "**Severity**" not in runbook.header:
        problems.append(
            f"{page}: the header line under the title must give **Severity**, service, for, "
            "threshold, rule file and dashboard"
        )
    names = [s.name for s in runbook.sections]
    if names != list(SECTIONS):
        missing = [s for s in SECTIONS if s not in names]
        extra = [s for s in names if s not in SECTIONS]
        problems.append(
            f"{page}: the sections must be exactly {', '.join(SECTIONS)} in this order; found "
            f"{', '.join(names) or 'none'}"
            + (f" (missing: {', '.join(missing)})" if missing else "")
            + (f" (not part of the format: {', '.join(extra)})" if extra else "")
        )
    return problems


def check_commands(runbook: Runbook) -> list[str]:
    """Every section has commands for every environment; queries are written one way."""
    problems = []
    for section in runbook.sections:
        problems += _check_coverage(runbook.file, section)
    return problems + _check_queries(runbook)


def _check_coverage(page: str, section: Section) -> list[str]:
    where = f"{page}, section {section.name!r}"
    plain = [b for b in section.blocks if b.environment is None]
    by_environment = {e: [b for b in section.blocks if b.environment == e] for e in ENVIRONMENTS}
    if section.name == "Prerequisites":
        problems = [
            f"{where}: needs exactly one ```{COMMAND_LANGUAGE} {e} block, found {len(found)}"
            for e, found in by_environment.items()
            if len(found) != 1
        ]
        if plain:
            problems.append(
                f"{where}: a plain ```{COMMAND_LANGUAGE} block (line {plain[0].line}): each "
                "environment's prerequisites are its own block"
            )
        return problems
    specific = [e for e, found in by_environment.items() if found]
    if specific:
        return [
            f"{where}: has a ```{COMMAND_LANGUAGE} {specific[0]} block but none for {e}"
            for e, found in by_environment.items()
            if not found
        ]
    if not plain:
        return [
            f"{where}: no command block; give a ```{COMMAND_LANGUAGE} block for every "
            f"environment, or one for each of {', '.join(ENVIRONMENTS)}"
        ]
    return []


def check_prerequisites(runbook: Runbook) -> list[str]:
    """The local block goes to the repository's root and sources ``env.sh``; the section says
    where the logs are."""
    where = f"{runbook.file}, section 'Prerequisites'"
    section = runbook.section("Prerequisites")
    if section is None:
        return []
    problems = []
    for block in runbook.prerequisites("local"):
        if REPOSITORY_ROOT not in block.code:
            problems.append(f"{where}, local block: must start with {REPOSITORY_ROOT}")
        if not sources_env_sh(block.code):
            problems.append(f"{where}, local block: must source the stack's variables: {ENV_SH}")
    text = section.text + "".join(b.code for b in section.blocks)
    if "hero-foundry-logs-*" not in text:
        problems.append(f"{where}: must name the logs' Kibana index, hero-foundry-logs-*")
    logs = {
        "local": "$LOGS",
        "compose": "/var/log/hero-foundry/fastapi",
        "kubernetes": "logs",
    }
    for environment, needle in logs.items():
        blocks = runbook.prerequisites(environment)
        if blocks and not any(needle in b.code for b in blocks):
            problems.append(
                f"{where}, {environment} block: must say where the api's logs are "
                f"(mention {needle})"
            )
    return problems


def check_variables(runbook: Runbook) -> list[str]:
    """Each environment's prerequisites set every variable its blocks use."""
    problems = []
    for environment in ENVIRONMENTS:
        given = provided(runbook, environment)
        for block in runbook.prerequisites(environment):
            missing = variables_used(block.code) - given
            for name in sorted(missing):
                problems.append(f"{block.where(runbook.file)}: uses ${name} before setting it")
        for block in runbook.commands(environment):
            missing = variables_used(block.code) - variables_assigned(block.code) - given
            for name in sorted(missing):
                problems.append(
                    f"{block.where(runbook.file)}: uses ${name}, which the {environment} "
                    "prerequisites do not set"
                )
    return problems


def _check_queries(runbook: Runbook) -> list[str]:
    problems = []
    for block in runbook.blocks():
        found = len(_ANY_PROMTOOL_QUERY.findall(block.code))
        parsed = len(_PROMTOOL_QUERY.findall(block.code))
        if found != parsed:
            problems.append(
                f"{block.where(runbook.file)}: write every query as "
                f"promtool query instant \"$PROM\" '<expr>' ({found - parsed} not)"
            )
    return problems


def _codes(runbook: Runbook, section: str, environment: str | None = None) -> str:
    found = runbook.section(section)
    if found is None:
        return ""
    return "\n".join(
        b.code
        for b in found.blocks
        if environment is None or b.applies_to(environment)  # plain blocks count for every one
    )


def check_contents(runbook: Runbook) -> list[str]:
    """What the sections must hold: what changed, the incident's state, the alert inactive."""
    page, name = runbook.file, runbook.name
    problems = []
    first = _codes(runbook, "First checks")
    for needle in (
        "hero_foundry:recent_change",
        "hero_foundry_build_info",
        "prometheus_config_last_reload_success_timestamp_seconds",
        "alertmanager_config_last_reload_success_timestamp_seconds",
        '"$API/readyz"',
    ):
        if runbook.section("First checks") and needle not in first:
            problems.append(f"{page}, section 'First checks': must ask what changed ({needle})")
    if runbook.section("First checks") and "drill status" not in _codes(
        runbook, "First checks", "local"
    ):
        problems.append(
            f"{page}, section 'First checks': the local commands must show the drills "
            '("$HF" drill status)'
        )
    if runbook.section("Escalation"):
        local = _codes(runbook, "Escalation", "local")
        if f'"$SINK/notifications?alertname={name}"' not in local:
            problems.append(
                f"{page}, section 'Escalation': the local commands must show the incident: "
                f'curl -fsS "$SINK/notifications?alertname={name}"'
            )
        for environment in ("compose", "kubernetes"):
            code = _codes(runbook, "Escalation", environment)
            if f"alertname%3D%22{name}%22" not in code and f"alertname={name}" not in code:
                problems.append(
                    f"{page}, section 'Escalation': the {environment} commands must show the "
                    f"incident in Alertmanager (filter=alertname%3D%22{name}%22 or amtool "
                    f"alert query alertname={name})"
                )
    if runbook.section("Verify recovery") and f'ALERTS{{alertname="{name}"' not in _codes(
        runbook, "Verify recovery"
    ):
        problems.append(
            f"{page}, section 'Verify recovery': must show the alert's state "
            f'(promtool query instant "$PROM" \'ALERTS{{alertname="{name}"}}\')'
        )
    return problems


# -- Running the local commands -------------------------------------------------------------------
def local_script(runbook: Runbook, block: Block) -> str:
    """What the end-to-end test runs for one local (or plain) block: the page's local
    prerequisites, then the block."""
    prerequisites = "\n".join(b.code for b in runbook.prerequisites("local"))
    return f"{prerequisites}\n# -- {block.where(runbook.file)}\n{block.code}\n"


@dataclass(frozen=True)
class Run:
    """One local block run by :func:`run_local_block`."""

    block: Block
    script: str
    returncode: int | None  # None: timed out (its process group was killed)
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def report(self, runbook: str, tail: int = 4000) -> str:
        status = "timed out" if self.returncode is None else f"exit {self.returncode}"
        return (
            f"{self.block.where(runbook)}: {status} after {self.seconds:.1f} s\n"
            f"--- script\n{self.script}--- stdout\n{self.stdout[-tail:]}\n"
            f"--- stderr\n{self.stderr[-tail:]}"
        )


def run_local_block(
    runbook: Runbook,
    block: Block,
    *,
    root: Path,
    state_dir: Path,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
) -> Run:
    """Run the page's local prerequisites and ``block`` as ``bash -euo pipefail -c`` from the
    repository's root ``root``, with ``HERO_FOUNDRY_STATE_DIR`` the stack's state directory.
    A block that outlives ``timeout`` is killed with every process it started."""
    import os
    import signal
    import time

    script = local_script(runbook, block)
    environment = {**(os.environ if env is None else env), "HERO_FOUNDRY_STATE_DIR": str(state_dir)}
    started = time.monotonic()
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=root,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a timeout ends its children too
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        code = None
    return Run(block, script, code, stdout, stderr, time.monotonic() - started)


def check_all(paths: Iterable[Path]) -> list[str]:
    """:func:`check` over several pages."""
    return [problem for path in paths for problem in check(load(path))]
