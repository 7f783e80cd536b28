"""The browser end-to-end suite (web/e2e/, docs/browser-tests.md): Debian's Chromium, driven by
playwright-core from Node's own test runner, against a real ``hero-foundry web`` forwarding to a
real ``hero-foundry serve`` (its own SQLite database in a temporary directory, free loopback
ports). The player's flows are the Node specs; this test provides what they run against and
fails with their output when they fail.

Before the run: the bundle is built when missing or stale (``scripts/web.sh``) and web/e2e's
packages are installed with ``npm ci`` when missing or older than their lock file. Without
Chromium (``apt-get install chromium``) or Node.js the test is skipped, and fails under CI=true
(``tests.conftest.unavailable``).

The specs take page screenshots into this test's temporary directory; each one that differs
from docs/screenshots/'s (``HERO_FOUNDRY_E2E_SCREENSHOTS`` elsewhere) by more than rendering
noise is copied there. A failing spec leaves its page (PNG and HTML) in the temporary directory
and names it in the failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hero_foundry.processes import LOOPBACK, free_port, stop
from tests.conftest import unavailable
from tests.servers import wait_until_serving

ROOT = Path(__file__).parents[2]
WEB = ROOT / "web"
E2E = WEB / "e2e"
HERO_FOUNDRY = Path(sys.executable).with_name("hero-foundry")
CHROMIUM = Path(os.environ.get("HERO_FOUNDRY_E2E_CHROMIUM", "/usr/bin/chromium"))
#: Where the page screenshots end up (committed: the README shows some).
SCREENSHOTS = Path(os.environ.get("HERO_FOUNDRY_E2E_SCREENSHOTS") or ROOT / "docs" / "screenshots")
#: Chromium's anti-aliasing may differ by a level or two from one run to the next: a picture
#: whose every pixel is within this of the committed one is the same picture.
PIXEL_NOISE = 16
#: The specs, in the order they run (one file today: its tests share the first player).
SPECS = ["specs/hero.test.mjs"]
#: The whole Node run; it takes about 20 s, so this only bounds a hang.
SUITE_TIMEOUT = 300


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"({exc})"


def _run(command: list[str], cwd: Path, what: str, timeout: float = 600) -> None:
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="module")
def tools() -> None:
    if not CHROMIUM.exists():
        unavailable("chromium", "apt-get install chromium")
    if shutil.which("node") is None or shutil.which("npm") is None:
        unavailable("Node.js and npm", "install Node.js 20.19+ and npm")


@pytest.fixture(scope="module")
def bundle(tools: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """web/dist, built by scripts/web.sh when missing or older than its sources, copied aside:
    a rebuild of web/dist during the run (``npm run build`` empties it first) must not take
    the page away from the browser."""
    _run(["bash", str(ROOT / "scripts" / "web.sh")], ROOT, "building the bundle (scripts/web.sh)")
    dist = WEB / "dist"
    assert (dist / "index.html").is_file(), "scripts/web.sh left no web/dist/index.html"
    copy = tmp_path_factory.mktemp("browser-bundle") / "dist"
    shutil.copytree(dist, copy, ignore=shutil.ignore_patterns("*.map"))
    return copy


@pytest.fixture(scope="module")
def e2e_packages(tools: None) -> None:
    """web/e2e/node_modules (playwright-core), from the committed lock file."""
    modules = E2E / "node_modules"
    lock = E2E / "package-lock.json"
    if modules.is_dir() and modules.stat().st_mtime >= lock.stat().st_mtime:
        return
    _run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        E2E,
        "installing web/e2e's packages (npm ci)",
    )
    modules.touch()


def _same_picture(new: Path, old: Path) -> bool:
    from PIL import Image, ImageChops  # Pillow comes with reportlab (the PDF export)

    with Image.open(new) as a, Image.open(old) as b:
        if a.size != b.size:
            return False
        difference = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
        return max(high for _, high in difference.getextrema()) <= PIXEL_NOISE


def publish_screenshots(taken: Path, target: Path) -> list[str]:
    """Copy the run's screenshots over ``target``'s, except those that only differ by
    rendering noise (so an unchanged page leaves ``git status`` clean); the names copied."""
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for picture in sorted(taken.glob("*.png")):
        committed = target / picture.name
        if committed.exists() and _same_picture(picture, committed):
            continue
        shutil.copyfile(picture, committed)
        copied.append(picture.name)
    return copied


def _environment(**values: str) -> dict[str, str]:
    """This process's environment without any HERO_FOUNDRY_* setting (a metrics token or a
    database URL of the developer's must not leak in), plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERO_FOUNDRY_")}
    env.update(values)
    return env


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.fixture(scope="module")
def servers(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """A throw-away api and the web tier in front of it: {"web", "api", "logs"}."""
    state = tmp_path_factory.mktemp("browser-servers")
    api_port, web_port = free_port(), free_port()
    api_env = _environment(
        HERO_FOUNDRY_DATABASE_URL=f"sqlite+aiosqlite:///{state / 'hero-foundry.sqlite3'}",
        HERO_FOUNDRY_DATA_DIR=str(state),
        HERO_FOUNDRY_HOST=LOOPBACK,
        HERO_FOUNDRY_PORT=str(api_port),
        HERO_FOUNDRY_ENVIRONMENT="test",
    )
    upgrade = subprocess.run(
        [str(HERO_FOUNDRY), "db", "upgrade"],
        cwd=ROOT,
        env=api_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert upgrade.returncode == 0, f"db upgrade:\n{upgrade.stdout}\n{upgrade.stderr}"
    api_log, web_log = state / "api.log", state / "web.log"
    api = _start([str(HERO_FOUNDRY), "serve"], api_env, api_log)
    web = None
    try:
        api_url = f"http://{LOOPBACK}:{api_port}"
        wait_until_serving(api_url, api, output=lambda: _tail(api_log))
        web_env = _environment(HERO_FOUNDRY_DATA_DIR=str(state), HERO_FOUNDRY_ENVIRONMENT="test")
        web = _start(
            [
                str(HERO_FOUNDRY),
                "web",
                "--host",
                LOOPBACK,
                "--port",
                str(web_port),
                "--api-url",
                api_url,
                "--dist",
                str(bundle),
            ],
            web_env,
            web_log,
        )
        web_url = f"http://{LOOPBACK}:{web_port}"
        wait_until_serving(web_url, web, output=lambda: _tail(web_log))
        ready = httpx.get(f"{web_url}/readyz", timeout=5)
        assert ready.status_code == 200, f"the web tier is not ready: {ready.text}"
        yield {"web": web_url, "api": api_url, "logs": (api_log, web_log)}
    finally:
        if web is not None:
            stop(web)
        stop(api)


def test_the_players_flows_in_chromium(
    servers: dict[str, object], e2e_packages: None, tmp_path: Path
) -> None:
    """Sign up, the wizard's every step, the sheet against the api's numbers, a level-up with
    its choices, rule search, the assistant's citations, a PDF download, a JSON import, a
    second player who sees none of it, a phone-width sheet, the browser's page views and
    wizard timings in the api's /metrics, and no unexpected console error on the way
    (web/e2e/specs/hero.test.mjs)."""
    env = _environment(
        HERO_FOUNDRY_E2E_BASE_URL=str(servers["web"]),
        HERO_FOUNDRY_E2E_API_URL=str(servers["api"]),
        HERO_FOUNDRY_E2E_CHROMIUM=str(CHROMIUM),
        HERO_FOUNDRY_E2E_SCREENSHOTS=str(tmp_path / "screenshots"),
        HERO_FOUNDRY_E2E_ARTIFACTS=str(tmp_path / "failures"),
        NO_COLOR="1",
    )
    command = [
        "node",
        "--test",
        "--test-concurrency=1",
        "--test-reporter=spec",
        *SPECS,
    ]
    node = subprocess.Popen(
        command,
        cwd=E2E,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # Chromium runs in node's group: a hang is stopped as a whole
    )
    try:
        output, _ = node.communicate(timeout=SUITE_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(node.pid, signal.SIGKILL)
        output, _ = node.communicate()
        pytest.fail(f"the browser suite did not finish in {SUITE_TIMEOUT} s:\n{output}")
    finally:
        if node.poll() is None:
            os.killpg(node.pid, signal.SIGKILL)
            node.wait()
    # Even from a failed run: the pages that were reached are worth a look.
    changed = publish_screenshots(tmp_path / "screenshots", SCREENSHOTS)
    if node.returncode != 0:
        api_log, web_log = servers["logs"]  # type: ignore[misc]
        pytest.fail(
            f"the browser suite failed ({node.returncode}):\n{output}\n"
            f"--- api log (last lines) ---\n{_tail(api_log)}\n"
            f"--- web tier log (last lines) ---\n{_tail(web_log)}",
            pytrace=False,
        )
    print(output)
    print(f"screenshots changed in {SCREENSHOTS}: {', '.join(changed) or 'none'}")


def test_screenshots_differing_only_by_rendering_noise_are_not_copied(tmp_path: Path) -> None:
    from PIL import Image

    taken, committed = tmp_path / "taken", tmp_path / "committed"
    taken.mkdir()
    committed.mkdir()
    page = Image.new("RGB", (40, 30), (240, 230, 210))
    page.save(committed / "same.png")
    page.save(committed / "changed.png")
    page.save(committed / "resized.png")
    noisy = page.copy()
    noisy.putpixel((3, 4), (241, 229, 212))  # anti-aliasing: a level or two
    noisy.save(taken / "same.png")
    changed = page.copy()
    changed.putpixel((3, 4), (120, 30, 30))  # a real change, one pixel is enough
    changed.save(taken / "changed.png")
    Image.new("RGB", (40, 31), (240, 230, 210)).save(taken / "resized.png")
    page.save(taken / "new.png")
    before = (committed / "same.png").read_bytes()

    copied = publish_screenshots(taken, committed)

    assert copied == ["changed.png", "new.png", "resized.png"]
    assert (committed / "same.png").read_bytes() == before
    assert (committed / "changed.png").read_bytes() == (taken / "changed.png").read_bytes()
    assert (committed / "new.png").is_file()
