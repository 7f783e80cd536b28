"""The log pipeline of monitoring/logging/: Filebeat -> Logstash -> Elasticsearch.

No Filebeat, Logstash or Elasticsearch runs here, so the tests check what those programs would
do with our files, on real input:

- the Filebeat configuration: filestream inputs with unique ids, the ndjson parser for our JSON
  logs, multiline for PostgreSQL, the `service` field where the Logstash conditions look for it
  (the customer's `fields_under_root` bug), TLS to Logstash;
- the Logstash pipeline, parsed by a small reader of its configuration grammar (balanced
  braces, plugins, conditionals): no grok on JSON, no `document_type`, the customer's index name,
  credentials and TLS from the environment, and its PostgreSQL grok pattern applied (translated
  faithfully to Python) to REAL PostgreSQL log lines: an ERROR with its multi-line STATEMENT
  produced by this test on the local server, and everything else in that server's log;
- the index template and the lifecycle policy, and the script that installs them (run against a
  local HTTP server that records what Elasticsearch would receive);
- real records written by the app (create_app with a log_dir): each line is JSON and carries
  every field the index template requires, each with a type its mapping accepts.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import fnmatch
import glob
import ipaddress
import json
import os
import re
import shutil
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any

import asyncpg
import httpx
import pytest
import yaml

from hero_foundry.observability.logs import LOG_FILE_NAME, LOG_SUBDIR
from hero_foundry.storage import migrate
from tests.conftest import POSTGRES_URL, _asyncpg_dsn, unavailable
from tests.integration.test_logs import (  # the app-log fixture and helpers, reused
    logged,  # noqa: F401 - a fixture
    read_records,
    register_and_login,
)

ROOT = Path(__file__).resolve().parents[2]
LOGGING = ROOT / "monitoring" / "logging"
FILEBEAT = LOGGING / "filebeat" / "filebeat.yml"
PIPELINE = LOGGING / "logstash" / "pipeline" / "hero-foundry.conf"
LOGSTASH_YML = LOGGING / "logstash" / "config" / "logstash.yml"
PIPELINES_YML = LOGGING / "logstash" / "config" / "pipelines.yml"
TEMPLATE = LOGGING / "elasticsearch" / "index-template.json"
ILM_POLICY = LOGGING / "elasticsearch" / "ilm-policy.json"
SETUP_SCRIPT = LOGGING / "elasticsearch" / "setup-elasticsearch.sh"
CERTS_SCRIPT = LOGGING / "elasticsearch" / "setup-certs.sh"

#: The customer's sources, and what its Logstash filter called each (`service_type`).
SOURCES = {"fastapi": "backend", "react": "frontend", "postgresql": "database"}
#: Sources whose files are our ECS JSON records (read with the ndjson parser, never grokked).
JSON_SOURCES = {"fastapi", "react"}
INDEX = "hero-foundry-logs-%{+YYYY.MM.dd}"


# -- A reader of Logstash's configuration language ----------------------------------------


class ConfigSyntaxError(ValueError):
    pass


@dataclass
class Plugin:
    name: str
    settings: dict[str, Any]
    line: int


@dataclass
class Branch:
    """``if a {..} else if b {..} else {..}``: (condition or None for else, body) pairs."""

    clauses: list[tuple[str | None, list[Any]]] = field(default_factory=list)


class LogstashConfig:
    """Logstash's pipeline grammar (sections, plugins, settings, conditionals) as Logstash reads
    it with the default ``config.support_escapes: false``: inside quotes only an escaped quote
    is special, every other backslash is literal. Raises :class:`ConfigSyntaxError` on anything
    Logstash would refuse to parse (unbalanced braces, a setting without ``=>``, ...)."""

    SECTIONS = ("input", "filter", "output")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.sections: dict[str, list[Any]] = {}
        self._parse()

    # characters
    def _line(self) -> int:
        return self.text.count("\n", 0, self.pos) + 1

    def _error(self, message: str) -> ConfigSyntaxError:
        return ConfigSyntaxError(f"line {self._line()}: {message}")

    def _skip(self) -> None:
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char.isspace():
                self.pos += 1
            elif char == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            else:
                return

    def _peek(self) -> str:
        self._skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _expect(self, token: str) -> None:
        self._skip()
        if not self.text.startswith(token, self.pos):
            found = self.text[self.pos : self.pos + 10] or "end of file"
            raise self._error(f"expected {token!r}, found {found!r}")
        self.pos += len(token)

    def _word(self) -> str:
        self._skip()
        match = re.compile(r"[A-Za-z0-9_@.\[\]-]+").match(self.text, self.pos)
        if not match:
            raise self._error(f"expected a name, found {self.text[self.pos : self.pos + 10]!r}")
        self.pos = match.end()
        return match.group()

    def _string(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        out = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.text[self.pos + 1 : self.pos + 2] == quote:
                out.append(quote)
                self.pos += 2
            elif char == quote:
                self.pos += 1
                return "".join(out)
            else:
                out.append(char)
                self.pos += 1
        raise self._error("unterminated string")

    # grammar
    def _parse(self) -> None:
        while self._peek():
            line = self._line()
            name = self._word()
            if name not in self.SECTIONS:
                raise ConfigSyntaxError(f"line {line}: unknown section {name!r}")
            self._expect("{")
            self.sections.setdefault(name, []).extend(self._block())

    def _block(self) -> list[Any]:
        """Plugins and conditionals up to the closing brace (consumed)."""
        nodes: list[Any] = []
        while True:
            char = self._peek()
            if not char:
                raise self._error("unexpected end of file: a '}' is missing")
            if char == "}":
                self.pos += 1
                return nodes
            line = self._line()
            name = self._word()
            if name == "if":
                nodes.append(self._branch())
            elif name == "else":
                raise ConfigSyntaxError(f"line {line}: 'else' without 'if'")
            else:
                self._expect("{")
                nodes.append(Plugin(name, self._settings(), line))

    def _condition(self) -> str:
        """The raw text of a condition, up to its block's opening brace."""
        start = self.pos
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in "\"'":
                self._string()
            elif char == "/" and self.text[start : self.pos].rstrip().endswith(("=~", "!~")):
                end = self.text.find("/", self.pos + 1)
                self.pos = end + 1
            elif char == "{":
                condition = self.text[start : self.pos].strip()
                self.pos += 1
                if not condition:
                    raise self._error("empty condition")
                return condition
            elif char == "}":
                raise self._error("'}' inside a condition")
            else:
                self.pos += 1
        raise self._error("unterminated condition")

    def _branch(self) -> Branch:
        branch = Branch()
        branch.clauses.append((self._condition(), self._block()))
        while True:
            saved = self.pos
            self._skip()
            if not self.text.startswith("else", self.pos):
                self.pos = saved
                return branch
            self.pos += len("else")
            self._skip()
            if self.text.startswith("if", self.pos) and not self.text[self.pos + 2].isalnum():
                self.pos += 2
                branch.clauses.append((self._condition(), self._block()))
            else:
                self._expect("{")
                branch.clauses.append((None, self._block()))
                return branch

    def _settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {}
        while True:
            char = self._peek()
            if char == "}":
                self.pos += 1
                return settings
            if not char:
                raise self._error("unexpected end of file in a plugin")
            key = self._word()
            self._expect("=>")
            settings[key] = self._value()

    def _value(self) -> Any:
        char = self._peek()
        if char in "\"'":
            return self._string()
        if char == "[":
            self.pos += 1
            items = []
            while self._peek() != "]":
                if not self._peek():
                    raise self._error("unterminated array")
                items.append(self._value())
                if self._peek() == ",":
                    self.pos += 1
            self.pos += 1
            return items
        if char == "{":
            self.pos += 1
            mapping: dict[str, Any] = {}
            while self._peek() != "}":
                if not self._peek():
                    raise self._error("unterminated hash")
                key = self._string() if self._peek() in "\"'" else self._word()
                self._expect("=>")
                mapping[key] = self._value()
                if self._peek() == ",":
                    self.pos += 1
            self.pos += 1
            return mapping
        return self._word()

    # queries
    def plugins(self, section: str) -> Iterator[tuple[Plugin, tuple[str, ...]]]:
        """Every plugin of a section with the conditions it runs under (``not (..)`` for the
        conditions of the earlier clauses an ``else`` implies)."""

        def walk(nodes: list[Any], conditions: tuple[str, ...]) -> Iterator[Any]:
            for node in nodes:
                if isinstance(node, Plugin):
                    yield node, conditions
                    continue
                earlier: tuple[str, ...] = ()
                for condition, body in node.clauses:
                    here = conditions + earlier + ((condition,) if condition else ())
                    yield from walk(body, here)
                    if condition:
                        earlier += (f"not ({condition})",)

        yield from walk(self.sections.get(section, []), ())

    def conditions(self) -> list[str]:
        found: list[str] = []

        def walk(nodes: list[Any]) -> None:
            for node in nodes:
                if isinstance(node, Branch):
                    for condition, body in node.clauses:
                        if condition:
                            found.append(condition)
                        walk(body)

        for nodes in self.sections.values():
            walk(nodes)
        return found


@pytest.fixture(scope="module")
def pipeline() -> LogstashConfig:
    return LogstashConfig(PIPELINE.read_text())


@pytest.fixture(scope="module")
def filebeat() -> dict[str, Any]:
    return yaml.safe_load(FILEBEAT.read_text())


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return json.loads(TEMPLATE.read_text())


# -- Filebeat ------------------------------------------------------------------------------

ENV_DEFAULT = re.compile(r"^\$\{(?P<name>[A-Z0-9_]+)(?::(?P<default>[^}]*))?\}$")


def env_default(value: str) -> str:
    """``${NAME:default}`` (Filebeat's and Logstash's syntax) -> its default."""
    match = ENV_DEFAULT.match(value)
    return match.group("default") if match else value


def inputs_by_service(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["fields"]["service"]: i for i in config["filebeat.inputs"]}


def service_field(filebeat_input: dict[str, Any]) -> str:
    """Where Filebeat puts ``fields.service`` in the event, as a Logstash field reference."""
    return "[service]" if filebeat_input.get("fields_under_root") else "[fields][service]"


def parser(filebeat_input: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for entry in filebeat_input.get("parsers", []):
        if kind in entry:
            return entry[kind]
    return None


def test_the_configuration_files_parse() -> None:
    assert isinstance(yaml.safe_load(FILEBEAT.read_text()), dict)
    assert isinstance(yaml.safe_load(LOGSTASH_YML.read_text()), dict)
    [pipeline_entry] = yaml.safe_load(PIPELINES_YML.read_text())
    assert pipeline_entry["path.config"].endswith("/" + PIPELINE.name)
    assert set(LogstashConfig(PIPELINE.read_text()).sections) == {"input", "filter", "output"}
    json.loads(TEMPLATE.read_text())
    json.loads(ILM_POLICY.read_text())
    for script in (SETUP_SCRIPT, CERTS_SCRIPT):
        subprocess.run(["sh", "-n", str(script)], check=True)


def test_filebeat_reads_each_source_with_a_filestream_input_of_its_own(
    filebeat: dict[str, Any],
) -> None:
    inputs = filebeat["filebeat.inputs"]
    assert {i["type"] for i in inputs} == {"filestream"}  # the `log` input is deprecated
    ids = [i["id"] for i in inputs]
    assert len(ids) == len(set(ids)), f"filestream ids must be unique: {ids}"
    by_service = inputs_by_service(filebeat)
    assert set(by_service) == set(SOURCES)
    for service, entry in by_service.items():
        [path] = entry["paths"]
        # configurable from the environment, defaulting to the customer's layout
        assert ENV_DEFAULT.match(path), path
        assert env_default(path) == f"/var/log/hero-foundry/{service}/*.log"
        # the app writes <log_dir>/fastapi/hero-foundry.log: the default glob must find it
        if service == "fastapi":
            written = PurePosixPath("/var/log/hero-foundry") / LOG_SUBDIR / LOG_FILE_NAME
            assert written.match(env_default(path))  # Go's glob: `*` stops at a `/`


def test_json_logs_are_decoded_by_the_ndjson_parser_and_postgresql_joined_by_multiline(
    filebeat: dict[str, Any],
) -> None:
    by_service = inputs_by_service(filebeat)
    for service in JSON_SOURCES:
        ndjson = parser(by_service[service], "ndjson")
        assert ndjson is not None, f"{service}: our ECS JSON needs the ndjson parser"
        assert ndjson["target"] == ""  # ECS fields at the event's root
        assert ndjson["overwrite_keys"] is True  # our @timestamp/message win
        assert ndjson["expand_keys"] is True  # "log.level" -> [log][level]
        assert parser(by_service[service], "multiline") is None  # stack traces are inside
    postgres = by_service["postgresql"]
    assert parser(postgres, "ndjson") is None
    multiline = parser(postgres, "multiline")
    assert multiline is not None
    assert multiline["type"] == "pattern"
    assert (multiline["negate"], multiline["match"]) == (True, "after")


def test_the_service_field_is_where_the_logstash_conditions_look(
    filebeat: dict[str, Any], pipeline: LogstashConfig
) -> None:
    assert service_conditions_problems(pipeline, filebeat) == []


def test_the_seed_fields_under_root_bug_would_be_caught(
    filebeat: dict[str, Any], pipeline: LogstashConfig
) -> None:
    """The customer's document set ``fields_under_root: true`` and tested [fields][service]:
    nothing matched."""
    broken = json.loads(json.dumps(filebeat))
    for entry in broken["filebeat.inputs"]:
        entry["fields_under_root"] = True
    problems = service_conditions_problems(pipeline, broken)
    assert problems and all("[service]" in p for p in problems)


SERVICE_CONDITION = re.compile(r'^(?P<field>(?:\[[^\]]+\])+)\s*==\s*"(?P<value>[^"]+)"$')


def service_conditions_problems(pipeline: LogstashConfig, filebeat: dict[str, Any]) -> list[str]:
    """Why the pipeline's per-source conditions would not match what Filebeat sends."""
    by_service = inputs_by_service(filebeat)
    problems = []
    tested: set[str] = set()
    for condition in pipeline.conditions():
        match = SERVICE_CONDITION.match(condition)
        if not match or match.group("value") not in SOURCES:
            continue
        value = match.group("value")
        tested.add(value)
        if value not in by_service:
            problems.append(f"{condition}: no Filebeat input sets service {value!r}")
            continue
        landing = service_field(by_service[value])
        if match.group("field") != landing:
            problems.append(f"{condition}: Filebeat puts {value!r} in {landing}")
    problems += [f"no condition for source {s!r}" for s in sorted(set(by_service) - tested)]
    return problems


def test_filebeat_sends_to_logstash_over_tls_configured_from_the_environment(
    filebeat: dict[str, Any],
) -> None:
    output = filebeat["output.logstash"]
    assert env_default(output["hosts"]) == "logstash:5044"
    assert output["ssl.enabled"] is True
    assert output["ssl.verification_mode"] == "full"
    for value in [
        *output["ssl.certificate_authorities"],
        output["ssl.certificate"],
        output["ssl.key"],
    ]:
        assert ENV_DEFAULT.match(value), f"{value}: TLS files come from the environment"
    assert "output.elasticsearch" not in filebeat


# -- The Logstash pipeline -------------------------------------------------------------------


def test_an_unbalanced_pipeline_is_refused() -> None:
    text = PIPELINE.read_text()
    last = text.rindex("}")
    with pytest.raises(ConfigSyntaxError, match="missing"):
        LogstashConfig(text[:last] + text[last + 1 :])
    with pytest.raises(ConfigSyntaxError):
        LogstashConfig(text.replace("=>", "=", 1))


def test_logstash_listens_for_beats_over_mutual_tls(pipeline: LogstashConfig) -> None:
    [(beats, conditions)] = list(pipeline.plugins("input"))
    assert beats.name == "beats" and conditions == ()
    settings = beats.settings
    assert settings["port"] == "5044"
    assert settings["ssl_enabled"] == "true"
    assert settings["ssl_client_authentication"] == "required"
    for key in ("ssl_certificate", "ssl_key"):
        assert ENV_DEFAULT.match(settings[key]), key
    assert all(ENV_DEFAULT.match(ca) for ca in settings["ssl_certificate_authorities"])
    # obsolete names Logstash 8 refuses
    assert not {"ssl", "ssl_verify_mode"} & set(settings)


def test_the_output_writes_the_seed_index_with_credentials_and_tls_from_the_environment(
    pipeline: LogstashConfig,
) -> None:
    assert "document_type" not in PIPELINE.read_text()  # gone since Elasticsearch 7
    [(output, _)] = list(pipeline.plugins("output"))
    assert output.name == "elasticsearch"
    settings = output.settings
    assert "document_type" not in settings
    assert settings["index"] == INDEX
    [hosts] = settings["hosts"]
    assert hosts.startswith("${ES_HOSTS") and env_default(hosts).startswith("https://")
    assert settings["user"].startswith("${ES_USER")
    assert settings["password"] == "${ES_PASSWORD}"  # no default: never a password in a file
    [ca] = settings["ssl_certificate_authorities"]
    assert ca.startswith("${ES_CA")
    assert settings["ssl_enabled"] == "true" and settings["ssl_verification_mode"] == "full"
    # the template and policy are ours; ILM in the output would replace the index by an alias
    assert settings["manage_template"] == "false"
    assert settings["ilm_enabled"] == "false"
    assert settings["data_stream"] == "false"


def test_json_sources_are_never_grokked(pipeline: LogstashConfig) -> None:
    parsers = {"grok", "dissect", "json", "kv", "csv"}
    for plugin, conditions in pipeline.plugins("filter"):
        if plugin.name not in parsers:
            continue
        sources = sources_of(conditions)
        assert sources == {"postgresql"}, (
            f"line {plugin.line}: {plugin.name} runs for {sorted(sources)}; only PostgreSQL's "
            "text lines need parsing (our JSON is decoded by Filebeat)"
        )


def sources_of(conditions: tuple[str, ...]) -> set[str]:
    """The sources whose events reach a plugin under these conditions."""
    reached = set(SOURCES)
    for condition in conditions:
        negated = condition.startswith("not (")
        match = SERVICE_CONDITION.match(condition[5:-1] if negated else condition)
        if match:
            value = match.group("value")
            reached = reached - {value} if negated else reached & {value}
    return reached


def test_each_source_gets_the_seed_service_type(pipeline: LogstashConfig) -> None:
    found: dict[str, str] = {}
    for plugin, conditions in pipeline.plugins("filter"):
        added = plugin.settings.get("add_field", {})
        if plugin.name == "mutate" and "service_type" in added:
            for source in sources_of(conditions):
                assert source not in found, f"service_type set twice for {source}"
                found[source] = added["service_type"]
    assert found == SOURCES


# -- Grok, as Logstash runs it ------------------------------------------------------------

#: The core patterns the pipeline uses, as logstash-patterns-core defines them.
GROK_CORE = {
    "INT": r"(?:[+-]?(?:[0-9]+))",
    "POSINT": r"\b(?:[1-9][0-9]*)\b",
    "WORD": r"\b\w+\b",
    "DATA": r".*?",
    "GREEDYDATA": r".*",
    "YEAR": r"(?>\d\d){1,2}",
    "MONTHNUM": r"(?:0?[1-9]|1[0-2])",
    "MONTHDAY": r"(?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])",
    "HOUR": r"(?:2[0123]|[01]?[0-9])",
    "MINUTE": r"(?:[0-5][0-9])",
    "SECOND": r"(?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)",
}
GROK_REFERENCE = re.compile(r"%\{(?P<name>\w+)(?::(?P<field>[^:}]+))?(?::(?P<type>int|float))?\}")


@dataclass
class Grok:
    """A grok ``match`` compiled the way Logstash compiles it (Oniguruma, Ruby syntax), into
    Python's ``re``: ``(?m)`` is Ruby's "dot matches newline", Python's ``(?s)``."""

    regex: re.Pattern[str]
    fields: dict[str, tuple[str, str | None]]  # group name -> (field reference, type)

    @classmethod
    def compile(cls, pattern: str, definitions: dict[str, str]) -> Grok:
        known = {**GROK_CORE, **definitions}
        fields: dict[str, tuple[str, str | None]] = {}

        def expand(text: str, depth: int = 0) -> str:
            if depth > 20:
                raise ValueError("recursive grok pattern")

            def replace(match: re.Match[str]) -> str:
                name = match.group("name")
                if name not in known:
                    raise KeyError(f"grok pattern {name} is not defined")
                body = expand(known[name], depth + 1)
                if match.group("field"):
                    group = f"g{len(fields)}"
                    fields[group] = (match.group("field"), match.group("type"))
                    return f"(?P<{group}>{body})"
                return f"(?:{body})"

            return GROK_REFERENCE.sub(replace, text)

        translated = expand(pattern).replace("(?m)", "(?s)")
        assert "(?<" not in translated, "named groups of Oniguruma syntax: translate them too"
        return cls(re.compile(translated), fields)

    def apply(self, message: str) -> dict[str, Any] | None:
        """The fields grok sets (``keep_empty_captures`` off), or None: no match."""
        match = self.regex.search(message)
        if match is None:
            return None
        result: dict[str, Any] = {}
        for group, (reference, kind) in self.fields.items():
            value = match.group(group)
            if value is None or value == "":
                continue
            result[reference] = int(value) if kind == "int" else float(value) if kind else value
        return result


def postgresql_grok(pipeline: LogstashConfig) -> tuple[Grok, Plugin]:
    [grok] = [p for p, c in pipeline.plugins("filter") if p.name == "grok"]
    pattern = grok.settings["match"]["message"]
    return Grok.compile(pattern, grok.settings.get("pattern_definitions", {})), grok


def multiline_records(lines: list[str], settings: dict[str, Any]) -> list[str]:
    """Filebeat's multiline parser (type pattern, negate true, match after): a line that does
    not match the pattern is appended to the record before it."""
    assert (settings["negate"], settings["match"]) == (True, "after")
    pattern = re.compile(settings["pattern"])  # RE2 syntax; this one means the same in Python
    records: list[list[str]] = []
    for line in lines:
        if pattern.search(line) or not records:
            records.append([line])
        elif len(records[-1]) < settings.get("max_lines", 500):
            records[-1].append(line)
    return ["\n".join(record) for record in records]


def joda_to_strptime(joda: str) -> str:
    return (
        joda.replace("yyyy", "%Y")
        .replace("MM", "%m")
        .replace("dd", "%d")
        .replace("HH", "%H")
        .replace("mm", "%M")
        .replace("ss", "%S")
        .replace(".SSS", ".%f")
    )


@dataclass
class PostgresLog:
    path: Path
    marker: str
    statement: str
    records: list[str]


@pytest.fixture(scope="module")
def postgres_log(filebeat: dict[str, Any]) -> PostgresLog:
    """The local PostgreSQL server's log, after this test made it write an ERROR with its
    STATEMENT (a statement on two lines), joined into records the way Filebeat joins them."""
    candidates = sorted(
        (Path(p) for p in glob.glob("/var/log/postgresql/postgresql-*.log")),
        key=lambda p: p.stat().st_mtime,
    )
    if not candidates:
        unavailable("the PostgreSQL server log", "no /var/log/postgresql/postgresql-*.log")
    path = candidates[-1]
    marker = uuid.uuid4().hex[:12]
    statement = f"SELECT 1 AS marker_{marker}\n\t  FROM no_such_table_{marker}"

    async def fail() -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL), timeout=5)
        try:
            with contextlib.suppress(asyncpg.UndefinedTableError):
                await conn.execute(statement)
        finally:
            await conn.close()

    try:
        asyncio.run(fail())
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        unavailable("PostgreSQL", exc)
    # The server writes the report before it answers the client; read until it is there.
    for _ in range(50):
        text = path.read_text(errors="replace")
        if f"FROM no_such_table_{marker}" in text:
            break
        threading.Event().wait(0.1)
    else:
        unavailable("the PostgreSQL server log", f"{path} is not the test server's log")
    settings = parser(inputs_by_service(filebeat)["postgresql"], "multiline")
    assert settings is not None
    records = multiline_records(text.splitlines(), settings)
    return PostgresLog(path, marker, statement, records[-2000:])


def test_the_postgresql_pattern_parses_every_record_of_a_real_server_log(
    pipeline: LogstashConfig, postgres_log: PostgresLog
) -> None:
    grok, _ = postgresql_grok(pipeline)
    unparsed = [r for r in postgres_log.records if grok.apply(r) is None]
    assert unparsed == [], f"{len(unparsed)} records of {postgres_log.path} do not parse"


def test_an_error_and_its_multiline_statement_become_ecs_fields(
    pipeline: LogstashConfig, postgres_log: PostgresLog
) -> None:
    grok, grok_plugin = postgresql_grok(pipeline)
    assert grok_plugin.settings["overwrite"] == ["message"]  # not an array of two messages
    marker = postgres_log.marker
    error = next(r for r in postgres_log.records if f'"no_such_table_{marker}"' in r)
    statement = next(r for r in postgres_log.records if f"FROM no_such_table_{marker}" in r)

    error_fields = grok.apply(error)
    assert error_fields is not None
    assert error_fields["[postgresql][log][level]"] == "ERROR"
    assert error_fields["message"].startswith(f'relation "no_such_table_{marker}" does not exist')
    assert isinstance(error_fields["[process][pid]"], int)

    statement_fields = grok.apply(statement)
    assert statement_fields is not None
    assert statement_fields["[postgresql][log][level]"] == "STATEMENT"
    # the two lines of the statement are one record, and the message keeps both (PostgreSQL
    # starts each continuation line of its log with a tab)
    assert statement_fields["message"] == postgres_log.statement.replace("\n", "\n\t")
    assert statement_fields["[process][pid]"] == error_fields["[process][pid]"]

    # the date filter's formats read the timestamp grok captured
    [date] = [p for p, _ in pipeline.plugins("filter") if p.name == "date"]
    source, *formats = date.settings["match"]
    assert source == "[postgresql][log][timestamp]"
    stamp = error_fields[source]
    parsed = [
        dt.datetime.strptime(stamp, joda_to_strptime(f))
        for f in formats
        if _parses(stamp, joda_to_strptime(f))
    ]
    assert parsed, f"{stamp!r} matches none of {formats}"
    assert date.settings["timezone"] == "%{[postgresql][log][timezone]}"
    assert error_fields["[postgresql][log][timezone]"]


def _parses(text: str, fmt: str) -> bool:
    try:
        dt.datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


def test_the_pattern_reads_the_compose_prefix_and_the_image_default_prefix(
    pipeline: LogstashConfig,
) -> None:
    grok, _ = postgresql_grok(pipeline)
    with_session = "2026-11-26 17:20:00.123 UTC [3000] hero@hero_foundry LOG:  duration: 1200.5 ms"
    fields = grok.apply(with_session)
    assert fields is not None
    assert (fields["[user][name]"], fields["[postgresql][log][database]"]) == (
        "hero",
        "hero_foundry",
    )
    assert fields["message"] == "duration: 1200.5 ms"
    background = (
        "2026-11-26 17:15:07.584 UTC [2187] LOG:  database system is ready to accept connections"
    )
    fields = grok.apply(background)
    assert fields is not None and "[user][name]" not in fields
    assert fields["message"] == "database system is ready to accept connections"
    assert grok.apply("not a postgresql line") is None


# -- Index template and lifecycle policy ---------------------------------------------------


def mapped_fields(properties: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Dotted field name -> mapping type of a template's properties."""
    result: dict[str, str] = {}
    for name, mapping in properties.items():
        dotted = f"{prefix}{name}"
        if "properties" in mapping:
            result.update(mapped_fields(mapping["properties"], dotted + "."))
        else:
            result[dotted] = mapping["type"]
    return result


@pytest.fixture(scope="module")
def mappings(template: dict[str, Any]) -> dict[str, str]:
    return mapped_fields(template["template"]["mappings"]["properties"])


def test_the_template_covers_the_index_logstash_writes_and_names_the_policy(
    template: dict[str, Any],
) -> None:
    assert "index_patterns" in template and "template" in template  # composable, not legacy
    day = dt.date(2026, 11, 26).strftime("%Y.%m.%d")
    index = INDEX.replace("%{+YYYY.MM.dd}", day)
    assert any(fnmatch.fnmatch(index, p) for p in template["index_patterns"])
    assert not any(fnmatch.fnmatch("logs-generic-default", p) for p in template["index_patterns"])
    policy_name = template["template"]["settings"]["index.lifecycle.name"]
    assert policy_name == template["_meta"]["lifecycle_policy"]
    script = SETUP_SCRIPT.read_text()
    assert f"POLICY={policy_name}\n" in script


def test_the_lifecycle_policy_deletes_old_daily_indices(template: dict[str, Any]) -> None:
    phases = json.loads(ILM_POLICY.read_text())["policy"]["phases"]
    assert set(phases) <= {"hot", "warm", "cold", "frozen", "delete"}
    ages = [duration_days(phases[p].get("min_age", "0ms")) for p in phases]
    assert ages == sorted(ages), "phases must start in order"
    assert "delete" in phases["delete"]["actions"]
    assert 7 <= duration_days(phases["delete"]["min_age"]) <= 90
    # Daily indices have no rollover alias: a rollover action would stall the policy on every
    # index. The date in the index name is the rollover.
    assert not any("rollover" in phase.get("actions", {}) for phase in phases.values())


def duration_days(value: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)", value)
    assert match, value
    unit = {"ms": 1 / 86_400_000, "s": 1 / 86_400, "m": 1 / 1440, "h": 1 / 24, "d": 1}
    return int(match.group(1)) * unit[match.group(2)]


def test_every_field_the_pipeline_sets_is_mapped_with_its_type(
    pipeline: LogstashConfig, mappings: dict[str, str]
) -> None:
    def dotted(reference: str) -> str:
        return ".".join(re.findall(r"\[([^\]]+)\]", reference)) or reference

    written: dict[str, str] = {}
    grok, _ = postgresql_grok(pipeline)
    for reference, kind in grok.fields.values():
        written[dotted(reference)] = {"int": "long", "float": "float"}.get(kind or "", "keyword")
    for plugin, _ in pipeline.plugins("filter"):
        for key in plugin.settings.get("add_field", {}):
            written[dotted(key)] = "keyword"
        for target in plugin.settings.get("copy", {}).values():
            written[dotted(target)] = "keyword"
    removed = {
        dotted(f) for p, _ in pipeline.plugins("filter") for f in p.settings.get("remove_field", [])
    }
    written["fields.service"] = "keyword"  # Filebeat's
    for name, kind in written.items():
        if name in removed:
            continue
        assert name in mappings, f"{name} is written but not mapped"
        if kind == "long":
            assert mappings[name] == "long", name
        if name == "message":
            assert mappings[name] in {"text", "match_only_text"}
        elif kind == "keyword":
            assert mappings[name] in {"keyword", "match_only_text", "text"}, name


# -- The install script, against a recording stand-in for Elasticsearch --------------------


@dataclass
class Request:
    method: str
    path: str
    authorization: str
    body: Any


class FakeElasticsearch:
    """Answers like Elasticsearch does to the install script; records every request."""

    def __init__(self, fail: dict[str, int] | None = None) -> None:
        self.requests: list[Request] = []
        self.fail = fail or {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                fake.requests.append(
                    Request(
                        self.command,
                        path,
                        self.headers.get("Authorization", ""),
                        json.loads(raw) if raw else None,
                    )
                )
                status = fake.fail.get(path, 200)
                body = json.dumps(
                    {"acknowledged": True, "status": "green"}
                    if status == 200
                    else {"error": {"type": "illegal_argument_exception"}, "status": status}
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeElasticsearch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def request(self, method: str, path: str) -> Request:
        [found] = [r for r in self.requests if (r.method, r.path) == (method, path)]
        return found


#: A password with the characters JSON and curl's config syntax must escape.
AWKWARD_PASSWORD = 'pa"ss\\word with spaces'


def run_setup(es: FakeElasticsearch, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("curl") is None:
        unavailable("curl", "apt-get install curl")
    secrets = {}
    for name, value in {
        "elastic": "elastic-secret",
        "kibana_system": "kibana-secret",
        "logstash_writer": AWKWARD_PASSWORD,
        "logs_reader": "reader-secret",
    }.items():
        secrets[name] = tmp_path / name
        secrets[name].write_text(value + "\n")
    env = {
        "PATH": os.environ["PATH"],
        "ES_URL": es.url,
        "ES_WAIT_SECONDS": "10",
        "ELASTIC_PASSWORD_FILE": str(secrets["elastic"]),
        "KIBANA_SYSTEM_PASSWORD_FILE": str(secrets["kibana_system"]),
        "LOGSTASH_WRITER_PASSWORD_FILE": str(secrets["logstash_writer"]),
        "LOGS_READER_PASSWORD_FILE": str(secrets["logs_reader"]),
    }
    return subprocess.run(
        ["sh", str(SETUP_SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_setup_script_installs_policy_template_and_users(tmp_path: Path) -> None:
    with FakeElasticsearch() as es:
        result = run_setup(es, tmp_path)
    assert result.returncode == 0, result.stderr
    expected_auth = "Basic " + base64.b64encode(b"elastic:elastic-secret").decode()
    assert {r.authorization for r in es.requests} == {expected_auth}
    assert es.request("PUT", "/_ilm/policy/hero-foundry-logs").body == json.loads(
        ILM_POLICY.read_text()
    )
    assert es.request("PUT", "/_index_template/hero-foundry-logs").body == json.loads(
        TEMPLATE.read_text()
    )
    assert es.request("POST", "/_security/user/kibana_system/_password").body == {
        "password": "kibana-secret"
    }
    writer_role = es.request("PUT", "/_security/role/logstash_writer").body
    [indices] = writer_role["indices"]
    assert indices["names"] == ["hero-foundry-logs-*"]
    assert {"create_index", "create_doc"} <= set(indices["privileges"])
    writer = es.request("PUT", "/_security/user/logstash_writer").body
    assert writer["password"] == AWKWARD_PASSWORD and writer["roles"] == ["logstash_writer"]
    reader_role = es.request("PUT", "/_security/role/logs_reader").body
    assert set(reader_role["indices"][0]["privileges"]) <= {"read", "view_index_metadata"}
    # no password on a command line or in the output
    assert "elastic-secret" not in result.stderr + result.stdout


def test_the_setup_script_fails_when_elasticsearch_refuses_the_template(tmp_path: Path) -> None:
    with FakeElasticsearch(fail={"/_index_template/hero-foundry-logs": 400}) as es:
        result = run_setup(es, tmp_path)
    assert result.returncode != 0
    assert "HTTP 400" in result.stderr and "illegal_argument_exception" in result.stderr
    assert not any(r.path.startswith("/_security/user/") for r in es.requests)


# -- Real records written by the app -------------------------------------------------------


@pytest.fixture(autouse=True)
def _tracing_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trace ids on the app's records (the `logged` fixture builds its settings after this)."""
    monkeypatch.setenv("HERO_FOUNDRY_TRACING_ENABLED", "true")


@pytest.fixture(scope="session")
def database_url(sqlite_url: str) -> str:
    """The log format does not depend on the database: SQLite only (overrides conftest's)."""
    asyncio.run(migrate.upgrade(sqlite_url))
    return sqlite_url


def expand(record: dict[str, Any]) -> dict[str, Any]:
    """Filebeat's ``expand_keys``: ``{"log.level": "info"}`` -> ``{"log": {"level": "info"}}``."""
    result: dict[str, Any] = {}
    for key, value in record.items():
        value = expand(value) if isinstance(value, dict) else value
        *parents, leaf = key.split(".") if key != "@timestamp" else [key]
        target = result
        for part in parents:
            target = target.setdefault(part, {})
        if isinstance(value, dict) and isinstance(target.get(leaf), dict):
            target[leaf].update(value)
        else:
            target[leaf] = value
    return result


def leaves(document: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in document.items():
        if isinstance(value, dict):
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def accepts(mapping_type: str, value: Any) -> bool:
    """Whether Elasticsearch indexes ``value`` under ``mapping_type`` as what it means."""
    values = value if isinstance(value, list) else [value]
    for item in values:
        if mapping_type == "date":
            if not isinstance(item, str) or not item.endswith("Z"):
                return False
            try:
                dt.datetime.fromisoformat(item)
            except ValueError:
                return False
        elif mapping_type in {"keyword", "text", "match_only_text", "wildcard"}:
            if not isinstance(item, str):
                return False
        elif mapping_type == "long":
            if isinstance(item, bool) or not isinstance(item, int) or abs(item) >= 2**63:
                return False
        elif mapping_type in {"float", "double", "scaled_float"}:
            if isinstance(item, bool) or not isinstance(item, int | float):
                return False
        elif mapping_type == "ip":
            try:
                ipaddress.ip_address(item)
            except ValueError:
                return False
        else:
            return False
    return True


def test_accepts_refuses_values_of_the_wrong_type() -> None:
    assert accepts("long", 13236397) and not accepts("long", "13236397")
    assert not accepts("long", True) and not accepts("keyword", 200)
    assert accepts("date", "2026-11-26T15:45:32.266Z") and not accepts("date", "yesterday")


@pytest.fixture
async def app_records(logged: httpx.AsyncClient) -> AsyncIterator[list[dict[str, Any]]]:  # noqa: F811
    """Records of an app that served a login, an authenticated call, a 404, a 422 and a 500."""
    _, token = await register_and_login(logged)
    assert (
        await logged.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200
    assert (await logged.get("/no/such/page")).status_code == 404
    assert (await logged.post("/api/auth/login", json={"email": 1})).status_code == 422
    assert (await logged.get("/boom/1")).status_code == 500
    yield read_records(logged.log_dir)  # type: ignore[attr-defined]


async def test_app_records_carry_the_template_fields_with_compatible_types(
    app_records: list[dict[str, Any]], template: dict[str, Any], mappings: dict[str, str]
) -> None:
    meta = template["_meta"]
    documents = [expand(r) for r in app_records]
    access = [d for d in documents if d["log"]["logger"] == "hero_foundry.access"]
    errors = [d for d in documents if d["log"]["logger"] == "hero_foundry.errors"]
    assert len(access) >= 6 and errors, "the requests above write access and error records"
    problems = []
    for document in documents:
        fields = dict(leaves(document))
        for name in meta["app_record_fields"]:
            if name not in fields:
                problems.append(f"{document['message']!r}: no {name}")
        for name, value in fields.items():
            if name not in mappings:
                problems.append(f"{name} is not mapped (it would be mapped dynamically)")
            elif not accepts(mappings[name], value):
                problems.append(f"{name}={value!r} does not fit a {mappings[name]} mapping")
    for kind, group in (("access_record_fields", access), ("error_record_fields", errors)):
        for document in group:
            fields = dict(leaves(document))
            problems += [
                f"{kind}: no {n} in {document['message']!r}" for n in meta[kind] if n not in fields
            ]
    assert sorted(set(problems)) == []
    # tracing on: every access record carries the trace id the template maps
    assert all(dict(leaves(d)).get("trace.id") for d in access)


async def test_the_fields_the_pipeline_adds_are_not_already_in_app_records(
    app_records: list[dict[str, Any]], pipeline: LogstashConfig
) -> None:
    """``add_field`` on a field the record already has would turn it into an array."""
    added = set()
    for plugin, conditions in pipeline.plugins("filter"):
        if "fastapi" in sources_of(conditions):
            added |= {
                ".".join(re.findall(r"\[([^\]]+)\]", k)) or k
                for k in plugin.settings.get("add_field", {})
            }
    assert added, "the fastapi branch adds service_type"
    for record in app_records:
        fields = dict(leaves(expand(record)))
        assert not added & set(fields), sorted(added & set(fields))
