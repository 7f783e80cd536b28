"""Every runbook's local commands against the live stack of the session (conftest.py: fast mode,
its own PostgreSQL and Redis, state in a temporary directory).

For each page of monitoring/runbooks/ (one test each), the local prerequisites followed by each
```sh and ```sh local block run as ``bash -euo pipefail -c`` from the repository's root, with
``HERO_FOUNDRY_STATE_DIR`` the stack's state directory, at most 60 s each: every block must exit
0. A failure reports the block, its script, its output and its errors. What the blocks may change
(the drill file: ``"$HF" drill clear``) is put back after each page, so the other end-to-end
tests find the stack as it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hero_foundry.monitoring import runbooks
from tests.e2e.conftest import ROOT, System, wait_until

RUNBOOKS = ROOT / "monitoring" / "runbooks"
PAGES = runbooks.runbook_files(RUNBOOKS)
BLOCK_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def ready(system: System) -> System:
    """Every scrape target up, the first Watchdog delivered, the api's log file written: what a
    healthy stack looks like to the runbooks."""

    def targets_up() -> bool:
        try:
            targets = system.prometheus("targets", state="active")["activeTargets"]
        except OSError:
            return False
        return bool(targets) and {t["health"] for t in targets} == {"up"}

    wait_until(targets_up, 60, "every scrape target up")
    wait_until(lambda: system.records(channel="deadmansswitch"), 60, "the first Watchdog")
    wait_until(system.stack.api_log_file.is_file, 30, f"{system.stack.api_log_file}")
    assert system.stack.env_sh.is_file()
    return system


@pytest.mark.parametrize("page", PAGES, ids=lambda path: path.stem)
def test_every_local_command_of_the_runbook_succeeds(ready: System, page: Path) -> None:
    runbook = runbooks.load(page)
    blocks = runbook.commands("local")
    assert blocks, f"{runbook.file} has no local commands"
    drills = ready.stack.drills_file
    before = drills.read_bytes() if drills.exists() else None
    runs = []
    try:
        for block in blocks:
            runs.append(
                runbooks.run_local_block(
                    runbook,
                    block,
                    root=ROOT,
                    state_dir=ready.stack.state_dir,
                    timeout=BLOCK_TIMEOUT,
                )
            )
    finally:
        # No drill left behind: the file as it was (absent if it was).
        if before is None:
            drills.unlink(missing_ok=True)
        elif drills.read_bytes() != before:
            drills.write_bytes(before)
    failed = [run for run in runs if not run.ok]
    print(
        f"{runbook.file}: {len(runs) - len(failed)}/{len(runs)} local blocks passed in "
        f"{sum(run.seconds for run in runs):.1f} s"
    )
    assert not failed, "\n\n".join(run.report(runbook.file) for run in failed)
