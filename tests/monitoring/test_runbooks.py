"""The runbooks (monitoring/runbooks/): one per alert, in the format of their README, checked by
``hero_foundry.monitoring.runbooks``:

- every alert of the rule files has its page, and every page an alert;
- the sections are exactly Prerequisites, Meaning, Impact, First checks, Diagnosis, Mitigation,
  Escalation, Verify recovery, in this order, under the title and the header line;
- every section has commands for local, compose and kubernetes (plain ```sh blocks, or one
  block per environment); Prerequisites has one block per environment, the local one sources the
  stack's env.sh, and each sets every variable its environment's blocks use;
- every ``promtool query instant "$PROM" '<expr>'`` parses (promtool);
- First checks asks what changed, Escalation shows the incident, Verify recovery the alert;
- the error runbook has a log query for the failing requests, in every environment;
- the checker fails on broken pages (each kind of defect, named with its page and section).

The local commands run against a live stack in tests/e2e/test_runbooks.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hero_foundry.monitoring import runbooks
from hero_foundry.monitoring.runbooks import (
    ENVIRONMENTS,
    SECTIONS,
    Runbook,
    check,
    check_commands,
    check_contents,
    check_prerequisites,
    check_promql,
    check_structure,
    check_variables,
    parse,
    variables_assigned,
    variables_used,
)
from hero_foundry.stack.supervisor import ENV_SH_VARIABLES

REPO = Path(__file__).parents[2]
RUNBOOKS = REPO / "monitoring" / "runbooks"
RULES = REPO / "monitoring" / "prometheus" / "rules"
PAGES = runbooks.runbook_files(RUNBOOKS)
NAMES = [path.stem for path in PAGES]


def page(name: str) -> Runbook:
    return runbooks.load(RUNBOOKS / f"{name}.md")


def report(problems: list[str]) -> str:
    return "\n".join(problems)


# -- One page per alert -------------------------------------------------------------------------
def test_every_alert_has_a_runbook_and_every_runbook_an_alert() -> None:
    alerts = runbooks.alert_names(RULES)
    assert alerts, "no alert found in monitoring/prometheus/rules/*.yml"
    assert sorted(alerts - set(NAMES)) == [], "alerts without a runbook"
    assert sorted(set(NAMES) - alerts) == [], "runbooks without an alert"


# -- The format, page by page -------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_title_header_and_sections_in_order(name: str) -> None:
    assert check_structure(page(name)) == [], report(check_structure(page(name)))


@pytest.mark.parametrize("name", NAMES)
def test_every_section_has_commands_for_every_environment(name: str) -> None:
    problems = check_commands(page(name))
    assert problems == [], report(problems)


@pytest.mark.parametrize("name", NAMES)
def test_prerequisites_source_env_sh_and_name_the_logs(name: str) -> None:
    problems = check_prerequisites(page(name))
    assert problems == [], report(problems)


@pytest.mark.parametrize("name", NAMES)
def test_prerequisites_set_every_variable_the_page_uses(name: str) -> None:
    problems = check_variables(page(name))
    assert problems == [], report(problems)


@pytest.mark.parametrize("name", NAMES)
def test_what_changed_incident_state_and_recovery_are_there(name: str) -> None:
    problems = check_contents(page(name))
    assert problems == [], report(problems)


def test_every_promql_query_parses(promtool: str) -> None:
    pages = [page(name) for name in NAMES]
    queries = sum(len(runbooks.promql_queries(p)) for p in pages)
    assert queries >= 5 * len(pages), f"only {queries} queries in {len(pages)} runbooks"
    problems = check_promql(pages, promtool)
    assert problems == [], report(problems)


def test_the_error_runbook_finds_the_failing_requests_in_the_logs() -> None:
    """HighErrorRate's Diagnosis reads the api's error records (request id, route) in every
    environment: the local log file, each Compose replica, the Kubernetes pods."""
    diagnosis = page("HighErrorRate").section("Diagnosis")
    assert diagnosis is not None
    for environment in ENVIRONMENTS:
        code = "\n".join(b.code for b in diagnosis.blocks if b.environment == environment)
        assert '"log.level") == "error"' in code, environment
        assert '.get("request")' in code and '.get("route")' in code, environment
    local = "\n".join(b.code for b in diagnosis.blocks if b.environment == "local")
    assert '"$LOGS"' in local
    assert "hero-foundry-logs-*" in diagnosis.text  # and in Kibana


def test_the_readme_describes_the_format_and_lists_every_runbook() -> None:
    text = (RUNBOOKS / "README.md").read_text()
    for section in SECTIONS:
        assert f"`{section}`" in text, section
    for environment in ENVIRONMENTS:
        assert f"sh {environment}" in text, environment
    for name in NAMES:
        assert f"]({name}.md)" in text, name
    assert "tests/monitoring/test_runbooks.py" in text and "tests/e2e/test_runbooks.py" in text


# -- The checker can fail -----------------------------------------------------------------------
def _edit(text: str, old: str, new: str, count: int = 1) -> str:
    assert old in text, f"{old!r} is not in the page"
    return text.replace(old, new, count)


def _without_block(text: str, section: str, fence: str) -> str:
    """The page without the first block opened by ``fence`` in ``section``."""
    start = text.index(f"## {section}\n")
    opening = text.index(f"{fence}\n", start)
    closing = text.index("\n```\n", opening) + len("\n```\n")
    return text[:opening] + text[closing:]


BROKEN = {
    "sections out of order": (
        lambda t: _edit(
            _edit(t, "## Meaning\n", "## MEANING-TMP\n"), "## Impact\n", "## Meaning\n"
        ).replace("## MEANING-TMP\n", "## Impact\n"),
        check_structure,
        "the sections must be exactly",
    ),
    "a section missing": (
        lambda t: _edit(t, "## Escalation\n", "## Who to call\n"),
        check_structure,
        "missing: Escalation",
    ),
    "no kubernetes block where local has one": (
        lambda t: _without_block(t, "Diagnosis", "```sh kubernetes"),
        check_commands,
        "section 'Diagnosis': has a ```sh local block but none for kubernetes",
    ),
    "a section without commands": (
        lambda t: _without_block(t, "Meaning", "```sh"),
        check_commands,
        "section 'Meaning': no command block",
    ),
    "an unquoted $PROM": (
        lambda t: _edit(
            t, 'instant "$PROM" \'job:http_user_requests', "instant $PROM 'job:http_user_requests"
        ),
        check_commands,
        "section 'Meaning'",
    ),
    "a variable the prerequisites do not set": (
        lambda t: _edit(t, '"$HF" drill clear', '"$HF" drill clear --file "$DRILLS"'),
        check_variables,
        "section 'Mitigation', ```sh local block at line",
    ),
    "a compose variable only local sets": (
        lambda t: _edit(t, 'echo "== $replica"', 'echo "== $replica $STACK"'),
        check_variables,
        "uses $STACK, which the compose prerequisites do not set",
    ),
    "local prerequisites without env.sh": (
        lambda t: _edit(t, '. "${HERO_FOUNDRY_STATE_DIR:-var}/stack/env.sh"\n', ""),
        check_prerequisites,
        "section 'Prerequisites', local block: must source the stack's variables",
    ),
    "no question about what changed": (
        lambda t: t.replace("hero_foundry:recent_change", "up"),
        check_contents,
        "section 'First checks': must ask what changed (hero_foundry:recent_change)",
    ),
    "no incident state in Escalation": (
        lambda t: t.replace('"$SINK/notifications?alertname=HighErrorRate"', '"$SINK/healthz"'),
        check_contents,
        "section 'Escalation': the local commands must show the incident",
    ),
    "a bash fence": (
        lambda t: _edit(t, "```sh compose\n# 2. Roll back", "```bash\n# 2. Roll back"),
        check_structure,
        "section 'Mitigation', line",
    ),
    "an unknown environment": (
        lambda t: _edit(t, "```sh compose\n# 2. Roll back", "```sh docker\n# 2. Roll back"),
        check_structure,
        "unknown environment in ```sh docker",
    ),
}


@pytest.mark.parametrize("defect", list(BROKEN))
def test_a_broken_runbook_is_rejected_naming_page_and_section(defect: str) -> None:
    text = (RUNBOOKS / "HighErrorRate.md").read_text()
    edit, part, expected = BROKEN[defect]
    assert part(parse(text, "HighErrorRate")) == [], "the page is right before the edit"
    problems = part(parse(edit(text), "HighErrorRate"))
    assert any(expected in p and p.startswith("HighErrorRate.md") for p in problems), report(
        problems
    )
    assert check(parse(edit(text), "HighErrorRate"))  # and the whole check fails too


def test_an_invalid_query_is_rejected_naming_page_and_section(promtool: str) -> None:
    text = _edit(
        (RUNBOOKS / "HighErrorRate.md").read_text(),
        "'job:http_user_errors:rate5m'",
        "'sum(rate(job:http_user_errors:rate5m[5m])'",
    )
    problems = check_promql([parse(text, "HighErrorRate")], promtool)
    assert len(problems) == 1, report(problems)
    assert problems[0].startswith("HighErrorRate.md, section 'Impact', ```sh block at line")
    assert "sum(rate(job:http_user_errors:rate5m[5m])" in problems[0]


# -- The parser ---------------------------------------------------------------------------------
def test_a_page_is_split_into_sections_and_blocks_per_environment() -> None:
    rb = page("HighErrorRate")
    assert [s.name for s in rb.sections] == list(SECTIONS)
    assert [b.environment for b in rb.section("Prerequisites").blocks] == list(ENVIRONMENTS)
    local = rb.commands("local")
    assert local and all(b.environment in (None, "local") for b in local)
    assert not any(b.section == "Prerequisites" for b in local)
    script = runbooks.local_script(rb, local[0])
    assert script.index(runbooks.ENV_SH) < script.index(local[0].code)


def test_variables_expanded_and_assigned() -> None:
    code = """export PROM=http://x AM="$B"  # $IN_A_COMMENT
X=$(curl -s "$API/a" | python3 -c 'print($NOT_SHELL)'); echo "${Y:-default} ${Z} $W $? $1"
for item in 1 2; do echo "$item"; done
read -r first second <<<"$C"
"""
    assert variables_used(code) == {"B", "API", "Z", "W", "item", "C"}
    assert variables_assigned(code) == {"PROM", "AM", "X", "item", "first", "second"}


def test_env_sh_provides_what_the_local_prerequisites_promise() -> None:
    """The checker counts on env.sh's variables: the supervisor's list."""
    assert set(runbooks.env_sh_variables()) == set(ENV_SH_VARIABLES)
    assert {"PROM", "AM", "API", "SINK", "LOGS", "STACK", "HF"} <= set(ENV_SH_VARIABLES)
