"""One setting for the links of alerts and notifications (monitoring/links.yml)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from hero_foundry.monitoring import links

REPO = Path(__file__).parents[2]


def test_every_link_is_written_from_the_settings() -> None:
    """The rule files, their unit tests and the templates hold what links.yml says (else run
    ``python -m hero_foundry.monitoring.links``)."""
    assert links.check(REPO) == []


def _copy(tmp_path: Path) -> Path:
    for part in ("monitoring/prometheus/rules", "monitoring/prometheus/tests"):
        shutil.copytree(REPO / part, tmp_path / part)
    (tmp_path / links.TEMPLATE).parent.mkdir(parents=True)
    shutil.copy(REPO / links.TEMPLATE, tmp_path / links.TEMPLATE)
    shutil.copy(REPO / links.SETTINGS, tmp_path / links.SETTINGS)
    return tmp_path


def test_changing_the_setting_changes_every_alert_s_runbook_and_the_templates(
    tmp_path: Path,
) -> None:
    root = _copy(tmp_path)
    settings = root / links.SETTINGS
    settings.write_text(
        'runbook_base_url: "https://docs.example.org/runbooks/"\n'
        'grafana_base_url: "https://grafana.example.org"\n'
    )
    stale = links.check(root)
    assert links.TEMPLATE in stale and len(stale) > 5
    assert links.main(["--root", str(root)]) == 0
    assert links.check(root) == []
    for path in (root / links.RULES).glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    url = rule["annotations"]["runbook_url"]
                    assert url == f"https://docs.example.org/runbooks/{rule['alert']}.md"
    template = (root / links.TEMPLATE).read_text()
    assert '{{ define "hero_foundry.grafana_base_url" }}https://grafana.example.org{{ end }}' in (
        template
    )
    assert links.main(["--root", str(root), "--check"]) == 0


def test_check_reports_a_hand_edited_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _copy(tmp_path)
    rule_file = root / links.RULES / "meta.yml"
    rule_file.write_text(
        rule_file.read_text().replace(
            "http://127.0.0.1:9099/runbooks/Watchdog.md", "https://elsewhere.example/Watchdog.md"
        )
    )
    assert links.main(["--root", str(root), "--check"]) == 1
    assert "stale: monitoring/prometheus/rules/meta.yml" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("runbook", "grafana"),
    [
        ("monitoring/runbooks/", "http://127.0.0.1:3001"),  # relative
        ("http://127.0.0.1:9099/runbooks", "http://127.0.0.1:3001"),  # no trailing slash
        ("http://127.0.0.1:9099/runbooks/", "http://127.0.0.1:3001/"),  # trailing slash
    ],
)
def test_a_base_url_that_would_make_broken_links_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], runbook: str, grafana: str
) -> None:
    root = _copy(tmp_path)
    (root / links.SETTINGS).write_text(
        f'runbook_base_url: "{runbook}"\ngrafana_base_url: "{grafana}"\n'
    )
    assert links.main(["--root", str(root)]) == 2
    assert "must be an absolute URL" in capsys.readouterr().err
