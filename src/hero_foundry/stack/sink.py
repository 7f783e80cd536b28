"""The local notification sink: what Alertmanager sends to Slack, PagerDuty, e-mail and the dead
man's switch, received on loopback, stored as JSON lines and printed.

- HTTP (default 127.0.0.1:9099): ``POST /slack`` (a Slack incoming webhook), ``POST
  /pagerduty/v2/enqueue`` (PagerDuty Events API v2), ``POST /deadmansswitch`` and ``POST
  /webhook`` (Alertmanager's webhook payload). A ``?receiver=`` query names the Alertmanager
  receiver (the generated configuration puts it in every URL). ``GET /notifications`` returns the
  records this sink received since it started (filters: ``channel``, ``alertname``, ``status``,
  ``receiver``), ``GET /incidents`` the PagerDuty incidents those records opened (each one paged
  someone: :mod:`hero_foundry.stack.incidents`), ``GET /healthz`` answers ``ok``. With a runbook
  directory (``--runbooks``, the repository's ``monitoring/runbooks``), ``GET /runbooks/`` lists
  the runbooks and ``GET /runbooks/<Alert>.md`` shows one as HTML, so the runbook links of local
  notifications open.
- SMTP (default 127.0.0.1:2525, aiosmtpd): accepts AUTH PLAIN/LOGIN without TLS (loopback only)
  and any sender and recipient; the recipient address names the receiver when known.

Each notification becomes one record (one JSON line appended to the file)::

    {"received_at": "2026-11-26T17:46:47.123Z", "channel": "slack", "receiver": "team-slack",
     "status": "firing", "alertnames": ["ServiceDown"],
     "title": "[FIRING:1] critical ServiceDown (fastapi-backend)", "text": "...", "payload": {...}}
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import html
import json
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rich.text import Text

from hero_foundry.stack import incidents
from hero_foundry.stack.config import (
    DEADMANSSWITCH_PATH,
    DEADMANSSWITCH_RECEIVER,
    LOOPBACK,
    PAGERDUTY_PATH,
    SLACK_PATH,
    WEBHOOK_PATH,
)

Record = dict[str, Any]

#: The title every template of monitoring/alertmanager starts with (hero_foundry.title):
#: "[FIRING:1] critical ServiceDown (fastapi-backend)".
#: "[FIRING:2] critical HighErrorRate, ServiceDown (fastapi-backend) in production": status,
#: severity, the alert names (one, or several joined by ", " for a group of one service).
_TITLE = re.compile(r"^\[(FIRING|RESOLVED)(?::\d+)?\]\s+(\S+)\s+(\S+(?:, \S+)*)\s+\(")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_title(title: str) -> tuple[str | None, list[str]]:
    """(status, [alertname]) read from a rendered hero_foundry.title, else (None, [])."""
    match = _TITLE.match(title.strip())
    if match is None:
        return None, []
    return match.group(1).lower(), match.group(3).split(", ")


def make_record(
    channel: str,
    receiver: str | None,
    status: str | None,
    alertnames: list[str],
    title: str,
    text: str,
    payload: Any,
) -> Record:
    return {
        "received_at": now(),
        "channel": channel,
        "receiver": receiver,
        "status": status or "firing",
        "alertnames": alertnames,
        "title": title,
        "text": text,
        "payload": payload,
    }


# -- One record per notification, by channel ---------------------------------------------------
def slack_record(payload: Mapping[str, Any], receiver: str | None = None) -> Record:
    attachments = payload.get("attachments") or [{}]
    first = attachments[0] if isinstance(attachments[0], dict) else {}
    title = str(first.get("title") or payload.get("text") or "")
    text = "\n".join(str(a.get("text") or "") for a in attachments if isinstance(a, dict))
    status, alertnames = from_title(title)
    if status is None:
        status = "resolved" if first.get("color") == "good" else "firing"
    return make_record("slack", receiver, status, alertnames, title, text, dict(payload))


def pagerduty_record(payload: Mapping[str, Any], receiver: str | None = None) -> Record:
    """An Events API v2 event (``event_action`` trigger or resolve)."""
    body = payload.get("payload") or {}
    title = str(body.get("summary") or payload.get("description") or "")
    status, alertnames = from_title(title)
    action = payload.get("event_action")
    status = {"trigger": "firing", "resolve": "resolved"}.get(str(action), status)
    if body.get("class"):
        alertnames = str(body["class"]).split(", ")
    details = body.get("custom_details") or payload.get("details") or {}
    text = (
        "\n".join(f"{key}: {value}" for key, value in details.items())
        if isinstance(details, dict)
        else str(details)
    )
    return make_record("pagerduty", receiver, status, alertnames, title, text, dict(payload))


def webhook_record(
    payload: Mapping[str, Any], receiver: str | None = None, channel: str = "webhook"
) -> Record:
    """Alertmanager's webhook payload (version 4)."""
    alerts = [a for a in payload.get("alerts") or [] if isinstance(a, dict)]
    names = list(dict.fromkeys(str((a.get("labels") or {}).get("alertname", "")) for a in alerts))
    annotations = payload.get("commonAnnotations") or {}
    title = str(annotations.get("summary") or "")
    if not title and alerts:
        title = str((alerts[0].get("annotations") or {}).get("summary", ""))
    text = "\n".join(
        str((a.get("annotations") or {}).get("description", ""))
        for a in alerts
        if (a.get("annotations") or {}).get("description")
    )
    return make_record(
        channel,
        receiver or payload.get("receiver"),
        str(payload.get("status") or "firing"),
        [n for n in names if n],
        title,
        text,
        dict(payload),
    )


def email_record(
    message: EmailMessage,
    receiver: str | None = None,
    envelope: Mapping[str, Any] | None = None,
) -> Record:
    subject = str(message.get("Subject", ""))
    part = message.get_body(preferencelist=("plain",))
    text = part.get_content() if part is not None else ""
    status, alertnames = from_title(subject)
    if status is None:
        status = "resolved" if text.lstrip().startswith("[RESOLVED") else "firing"
    headers: dict[str, Any] = {}
    for name, value in message.items():
        value = str(value)
        if name in headers:
            previous = headers[name]
            headers[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            headers[name] = value
    payload: dict[str, Any] = {"headers": headers, "text": text}
    if envelope:
        payload["envelope"] = dict(envelope)
    return make_record("email", receiver, status, alertnames, subject, text, payload)


# -- Printing -----------------------------------------------------------------------------------
_STATUS_STYLE = {"firing": "bold red", "resolved": "bold green"}


def describe(record: Mapping[str, Any]) -> Text:
    """One readable line: time, channel, receiver, FIRING/RESOLVED, alert names, title."""
    received = str(record.get("received_at", ""))
    clock = received[11:19] if len(received) >= 19 else received
    status = str(record.get("status", ""))
    line = Text()
    line.append(f"{clock} ", style="dim")
    line.append(f"{record.get('channel', '?'):<14} ", style="cyan")
    line.append(f"{record.get('receiver') or '-':<19} ", style="magenta")
    line.append(f"{status.upper():<8} ", style=_STATUS_STYLE.get(status, "bold"))
    line.append(f"{', '.join(record.get('alertnames') or []) or '-'}  ", style="bold")
    line.append(str(record.get("title", "")).splitlines()[0] if record.get("title") else "")
    return line


# -- Storage -----------------------------------------------------------------------------------
def read_records(path: Path) -> list[Record]:
    """Every record of a notifications file (a partly written last line is skipped)."""
    if not path.is_file():
        return []
    records = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            with contextlib.suppress(json.JSONDecodeError):
                records.append(json.loads(line))
    return records


def matches(record: Mapping[str, Any], filters: Mapping[str, str]) -> bool:
    for key, wanted in filters.items():
        if key == "alertname":
            if wanted not in (record.get("alertnames") or []):
                return False
        elif key in ("channel", "status", "receiver") and str(record.get(key)) != wanted:
            return False
    return True


# -- Runbooks -----------------------------------------------------------------------------------
#: A runbook's file name: a page of the runbook directory, never a path.
_RUNBOOK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*\.md$")
#: Where the runbooks are served: the local alerts' ``runbook_url`` is
#: ``<sink>/runbooks/<Alert>.md``.
RUNBOOK_PREFIX = "/runbooks/"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 1rem auto; padding: 0 1rem;
       line-height: 1.45; color: #1b1b1b; }}
pre {{ background: #f4f4f4; padding: .6rem; overflow-x: auto; margin-top: 0; }}
code {{ font-family: ui-monospace, monospace; font-size: .92em; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .2rem .5rem; }}
.environment {{ display: inline-block; background: #264d73; color: #fff; font-size: .8em;
               padding: 0 .5rem; margin-top: .6rem; }}
nav {{ font-size: .9em; margin-bottom: 1rem; }}
</style></head>
<body><nav><a href="/runbooks/">All runbooks</a> · served by the local notification sink</nav>
{body}
</body></html>
"""


def runbook_pages(directory: Path | None) -> list[str]:
    """The file names of the runbook directory's pages (``ServiceDown.md``, ``README.md``)."""
    if directory is None or not directory.is_dir():
        return []
    return sorted(
        p.name for p in directory.glob("*.md") if p.is_file() and _RUNBOOK_NAME.match(p.name)
    )


def render_markdown(text: str) -> str:
    """A runbook as HTML (CommonMark and tables; raw HTML in the page is escaped). A command
    block's environment (```` ```sh local ````) is shown above it."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    default_fence = md.renderer.rules["fence"]

    def fence(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        words = tokens[idx].info.split()
        rendered = default_fence(tokens, idx, options, env)
        if words and words[0] == "sh":
            where = words[1] if len(words) > 1 else "every environment"
            return f'<div class="environment">{html.escape(where)}</div>\n{rendered}'
        return str(rendered)

    md.add_render_rule("fence", fence)
    return str(md.render(text))


def runbook_page(directory: Path | None, name: str) -> str | None:
    """The HTML page of runbook ``name`` (a file name such as ``ServiceDown.md``), or None when
    the directory has no such page."""
    if directory is None or name not in runbook_pages(directory):
        return None
    text = (directory / name).read_text(encoding="utf-8")
    title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), name)
    return _PAGE.format(title=html.escape(title), body=render_markdown(text))


def runbook_index(directory: Path | None) -> str:
    """An HTML page linking every runbook (README.md, the conventions, first)."""
    pages = runbook_pages(directory)
    items = [
        f'<li><a href="{html.escape(name)}">{html.escape(name.removesuffix(".md"))}</a></li>'
        for name in sorted(pages, key=lambda n: (n != "README.md", n))
    ]
    where = html.escape(str(directory)) if directory is not None else "(no --runbooks given)"
    body = f"<h1>Runbooks</h1>\n<p>{len(pages)} pages from <code>{where}</code></p>\n"
    body += "<ul>\n" + "\n".join(items) + "\n</ul>"
    return _PAGE.format(title="Runbooks", body=body)


# -- The servers --------------------------------------------------------------------------------
class Sink:
    """The HTTP and SMTP servers in this process (threads). ``start()``/``stop()`` or ``with``."""

    def __init__(
        self,
        file: Path,
        *,
        host: str = LOOPBACK,
        port: int = 9099,
        smtp_port: int | None = 2525,
        email_receivers: Mapping[str, str] | None = None,
        on_record: Callable[[Record], None] | None = None,
        runbooks: Path | None = None,
    ) -> None:
        self.file = Path(file)
        #: The runbook directory served under /runbooks/ (None: not served).
        self.runbooks = Path(runbooks) if runbooks is not None else None
        self.host, self.port, self.smtp_port = host, port, smtp_port
        self.email_receivers = {k.lower(): v for k, v in (email_receivers or {}).items()}
        self.on_record = on_record
        self.records: list[Record] = []
        self._lock = threading.Condition()
        self._http: ThreadingHTTPServer | None = None
        self._smtp: Any = None
        self.smtp_error: str | None = None  # why SMTP is not served (aiosmtpd missing)

    # -- storing -------------------------------------------------------------------------------
    def add(self, record: Record) -> None:
        line = json.dumps(record, ensure_ascii=False, default=str)
        with self._lock:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            with self.file.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
            self.records.append(record)
            self._lock.notify_all()
        if self.on_record is not None:
            self.on_record(record)

    def wait_for(self, predicate: Callable[[list[Record]], bool], timeout: float) -> bool:
        """Wait until ``predicate(records)`` holds (True) or ``timeout`` seconds pass."""
        with self._lock:
            return self._lock.wait_for(lambda: predicate(list(self.records)), timeout)

    # -- serving -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Sink:
        self._http = ThreadingHTTPServer((self.host, self.port), _handler(self))
        self._http.daemon_threads = True
        self.port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, name="sink-http", daemon=True).start()
        if self.smtp_port is not None:
            try:
                self._start_smtp()
            except ImportError as exc:
                self.smtp_error = f"aiosmtpd is not installed ({exc}): e-mail is not received"
            except BaseException:
                self.stop()
                raise
        return self

    def _start_smtp(self) -> None:
        # aiosmtpd 1.4 sets its own deprecated Session.login_data on every AUTH.
        warnings.filterwarnings("ignore", message="Session.login_data is deprecated")
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP, AuthResult

        class Server(SMTP):
            # The challenges Alertmanager's (and most clients') AUTH LOGIN expect; aiosmtpd's
            # default "User Name" makes Alertmanager give up ("unexpected server challenge").
            AuthLoginUsernameChallenge = "Username:"
            AuthLoginPasswordChallenge = "Password:"

        class Serving(Controller):
            def factory(self) -> SMTP:
                return Server(self.handler, **self.SMTP_kwargs)

        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                message = email.message_from_bytes(
                    envelope.original_content or envelope.content, policy=email.policy.default
                )
                rcpt = [str(r).lower() for r in envelope.rcpt_tos]
                receiver = next(
                    (sink.email_receivers[r] for r in rcpt if r in sink.email_receivers), None
                )
                login = getattr(session.auth_data, "login", None)
                details = {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": list(envelope.rcpt_tos),
                    "auth_login": login.decode() if isinstance(login, bytes) else login,
                }
                sink.add(email_record(message, receiver, details))  # type: ignore[arg-type]
                return "250 Message accepted for delivery"

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
            return AuthResult(success=True, auth_data=data)

        controller = Serving(
            Handler(),
            hostname=self.host,
            port=self.smtp_port,
            ready_timeout=10,
            authenticator=authenticator,
            auth_require_tls=False,  # loopback only: Alertmanager sends AUTH without STARTTLS
            decode_data=False,
        )
        controller.start()
        self._smtp = controller

    def stop(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(Exception):
                self._smtp.stop()
            self._smtp = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler(sink: Sink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "hero-foundry-sink"

        def _reply(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/healthz":
                self._reply(200, b"ok", "text/plain")
            elif url.path == "/notifications":
                filters = {k: v[-1] for k, v in parse_qs(url.query).items()}
                with sink._lock:
                    records = [r for r in sink.records if matches(r, filters)]
                self._reply(200, records)
            elif url.path == "/incidents":
                # PagerDuty's view: the incidents the pagerduty records opened (each one paged).
                with sink._lock:
                    opened = incidents.incidents(list(sink.records))
                self._reply(200, [incident.as_dict() for incident in opened])
            elif url.path == RUNBOOK_PREFIX.rstrip("/"):
                self.send_response(301)
                self.send_header("Location", RUNBOOK_PREFIX)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif url.path.startswith(RUNBOOK_PREFIX):
                self._runbook(url.path[len(RUNBOOK_PREFIX) :])
            else:
                self._reply(404, {"error": f"no such path: {url.path}"})

        def _runbook(self, name: str) -> None:
            """``GET /runbooks/<name>``: the index for an empty name, else the page ``name`` if
            it is a runbook file of the directory (a bare file name: no path, no traversal)."""
            html_type = "text/html; charset=utf-8"
            if not name:
                self._reply(200, runbook_index(sink.runbooks).encode(), html_type)
                return
            page = runbook_page(sink.runbooks, name) if _RUNBOOK_NAME.match(name) else None
            if page is None:
                known = "" if sink.runbooks is not None else " (the sink runs without --runbooks)"
                text = f"<p>No runbook {html.escape(name)}{known}. <a href='/runbooks/'>All</a></p>"
                self._reply(404, _PAGE.format(title="Not found", body=text).encode(), html_type)
                return
            self._reply(200, page.encode(), html_type)

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            receiver = (parse_qs(url.query).get("receiver") or [None])[-1]
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                payload = json.loads(raw or b"{}")
                if not isinstance(payload, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                self._reply(400, {"error": f"invalid JSON: {exc}"})
                return
            path = url.path.rstrip("/")
            if path == SLACK_PATH:
                sink.add(slack_record(payload, receiver))
                self._reply(200, b"ok", "text/plain")
            elif path in (PAGERDUTY_PATH, "/pagerduty"):
                sink.add(pagerduty_record(payload, receiver))
                reply = {"status": "success", "message": "Event processed"}
                reply["dedup_key"] = payload.get("dedup_key")
                self._reply(202, reply)
            elif path == DEADMANSSWITCH_PATH:
                sink.add(
                    webhook_record(payload, receiver or DEADMANSSWITCH_RECEIVER, "deadmansswitch")
                )
                self._reply(200, {"status": "ok"})
            elif path == WEBHOOK_PATH:
                sink.add(webhook_record(payload, receiver))
                self._reply(200, {"status": "ok"})
            else:
                self._reply(404, {"error": f"no such path: {url.path}"})

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def follow(path: Path, start: int = 0) -> Iterator[tuple[int, list[Record]]]:
    """Generator of (offset, new records) of a notifications file being appended to; each
    ``next()`` reads what was added since the last one."""
    offset = start
    pending = b""
    while True:
        records: list[Record] = []
        if path.is_file():
            with path.open("rb") as data:
                data.seek(offset)
                chunk = data.read()
            offset += len(chunk)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                with contextlib.suppress(ValueError):
                    records.append(json.loads(line))
        yield offset, records
