"""The addresses alerts and notifications link to, from one setting: ``monitoring/links.yml``.

``monitoring/links.yml`` holds two base URLs:

- ``runbook_base_url``: where the runbooks of ``monitoring/runbooks/`` are served. Every alert's
  ``runbook_url`` annotation is this base followed by ``<Alert>.md`` (absolute, so that it is a
  working link in Prometheus, Alertmanager, Grafana and every notification);
- ``grafana_base_url``: where Grafana is published; the notifications' dashboard links start
  with it.

``python -m hero_foundry.monitoring.links`` writes them where they are used (the rule files'
``runbook_url`` lines, the same lines of their promtool tests, and the two base definitions of
``monitoring/alertmanager/templates/hero-foundry.tmpl``); ``--check`` writes nothing and exits 1
naming the files that differ. The local stack (``hero-foundry up``) substitutes its own runbook
server in its generated copy of the rules (:func:`with_runbook_base`).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

SETTINGS = Path("monitoring/links.yml")
RULES = Path("monitoring/prometheus/rules")
#: The rules' promtool unit tests, which expect the alerts' annotations in full.
RULE_TESTS = Path("monitoring/prometheus/tests")
TEMPLATE = Path("monitoring/alertmanager/templates/hero-foundry.tmpl")
COMMAND = "python -m hero_foundry.monitoring.links"

#: ``runbook_url: <anything>/<Alert>.md`` in a rule file (the alert name is kept).
_RUNBOOK_LINE = re.compile(
    r"^(?P<key>\s*runbook_url:\s*)(?P<quote>[\"']?)\S*?(?P<name>[A-Za-z0-9]+\.md)(?P=quote)\s*$",
    re.M,
)
_DEFINE = '{{{{ define "hero_foundry.{name}" }}}}{value}{{{{ end }}}}'


@dataclass(frozen=True)
class Links:
    runbook_base_url: str
    grafana_base_url: str

    def runbook(self, alert: str) -> str:
        return f"{self.runbook_base_url}{alert}.md"


def load(root: Path) -> Links:
    """The settings of ``root``'s ``monitoring/links.yml``, validated."""
    data = yaml.safe_load((root / SETTINGS).read_text(encoding="utf-8")) or {}
    runbook, grafana = str(data.get("runbook_base_url", "")), str(data.get("grafana_base_url", ""))
    if not re.match(r"https?://[^/\s]+/(\S*/)?$", runbook):
        raise ValueError(
            f"{SETTINGS}: runbook_base_url must be an absolute URL ending with /: {runbook!r}"
        )
    if not re.match(r"https?://[^/\s]+(/\S*[^/])?$", grafana):
        raise ValueError(
            f"{SETTINGS}: grafana_base_url must be an absolute URL, no trailing /: {grafana!r}"
        )
    return Links(runbook, grafana)


def with_runbook_base(text: str, base: str) -> str:
    """A rule file's text with every ``runbook_url`` pointed at ``base`` (``.../<Alert>.md``)."""
    return _RUNBOOK_LINE.sub(lambda m: f"{m['key']}{m['quote']}{base}{m['name']}{m['quote']}", text)


def with_template_bases(text: str, links: Links) -> str:
    """The shared template's text with its two base definitions set from ``links``."""
    for name, value in (
        ("grafana_base_url", links.grafana_base_url),
        ("runbook_base_url", links.runbook_base_url),
    ):
        pattern = re.compile(r'\{\{ define "hero_foundry\.' + name + r'" \}\}.*?\{\{ end \}\}')
        if not pattern.search(text):
            raise ValueError(f"{TEMPLATE}: no definition of hero_foundry.{name}")
        text = pattern.sub(lambda _m, n=name, v=value: _DEFINE.format(name=n, value=v), text)
    return text


def render(root: Path) -> dict[Path, str]:
    """Every file the links are written to, as it should read."""
    links = load(root)
    out = {
        path.relative_to(root): with_runbook_base(
            path.read_text(encoding="utf-8"), links.runbook_base_url
        )
        for directory in (RULES, RULE_TESTS)
        for path in sorted((root / directory).glob("*.yml"))
    }
    out[TEMPLATE] = with_template_bases((root / TEMPLATE).read_text(encoding="utf-8"), links)
    return out


def check(root: Path) -> list[Path]:
    """The files whose links differ from the settings."""
    return [
        path
        for path, text in render(root).items()
        if (root / path).read_text(encoding="utf-8") != text
    ]


def write(root: Path) -> list[Path]:
    changed = check(root)
    for path, text in render(root).items():
        if path in changed:
            (root / path).write_text(text, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=COMMAND,
        description=f"Write the base URLs of {SETTINGS} where alerts and notifications use them.",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file differs"
    )
    parser.add_argument(
        "--root", type=Path, default=Path(__file__).resolve().parents[3], help="repository root"
    )
    args = parser.parse_args(argv)
    try:
        stale = check(args.root) if args.check else write(args.root)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'}: {path}")
    if args.check and stale:
        print(f"{len(stale)} file(s) differ from {SETTINGS}: run `{COMMAND}`", file=sys.stderr)
        return 1
    print(f"links: {len(stale)} file(s) {'stale' if args.check else 'changed'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
