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

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hero_foundry.drills import state as drill_state
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


def test_the_error_runbook_s_log_query_finds_the_failing_requests(ready: System) -> None:
    """HighErrorRate's Diagnosis, as an engineer runs it locally during an incident: with
    every api request failing (drill ``error_rate`` 1), the failing requests' ids, as their
    clients got them in ``X-Request-ID``, and their route are in what its log query prints."""
    runbook = runbooks.load(RUNBOOKS / "HighErrorRate.md")
    (diagnosis,) = [s for s in runbook.sections if s.name == "Diagnosis"]
    blocks = [b for b in diagnosis.blocks if b.applies_to("local")]
    assert any("$LOGS" in block.code for block in blocks), "the local Diagnosis reads the log"
    route = "/api/srd/alignments"
    drills = ready.stack.drills_file
    before = drills.read_bytes() if drills.exists() else None
    failed: dict[str, int] = {}
    try:
        drill_state.write(drills, {"error_rate": 1.0})

        def request_ids() -> dict[str, int]:
            request = urllib.request.Request(ready.api + route)
            try:
                with urllib.request.urlopen(request, timeout=10):
                    pass  # answered: the drill is not in force in this worker yet
            except urllib.error.HTTPError as error:
                if error.code == 500:
                    failed[error.headers["X-Request-ID"]] = error.code
            return failed if len(failed) >= 3 else {}

        wait_until(request_ids, 30, "three injected 500s", interval=0.2)
    finally:
        if before is None:
            drills.unlink(missing_ok=True)
        else:
            drills.write_bytes(before)
    # The access records are written once the responses are sent: wait for them in the file.
    log = ready.stack.api_log_file
    wait_until(lambda: all(rid in log.read_text() for rid in failed), 30, "the access records")
    output = ""
    for block in blocks:
        run = runbooks.run_local_block(
            runbook, block, root=ROOT, state_dir=ready.stack.state_dir, timeout=BLOCK_TIMEOUT
        )
        assert run.ok, run.report(runbook.file)
        output += run.stdout
    for request_id in failed:
        lines = [line for line in output.splitlines() if request_id in line]
        assert lines, f"request {request_id} not found by the log query:\n{output[-3000:]}"
        assert any(route in line and "500" in line for line in lines), lines
