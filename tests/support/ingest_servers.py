"""A real HTTP server on 127.0.0.1 that answers like the public APIs (tests of ingest).

Routes map a path to a handler ``(Request) -> Reply``; ``Script`` plays given replies
first (e.g. a 429, a 500, a truncated body), then hands over to the normal handler.
``Reply(drop=True)`` closes the connection without answering (a killed server).
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    drop: bool = False

    def payload(self) -> tuple[bytes, str]:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), self.content_type or "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), self.content_type or "text/html; charset=utf-8"
        return self.body, self.content_type or "application/octet-stream"


Handler = Callable[[Request], Reply]


class Script:
    """Replies played once each, in order, before ``then`` answers every later request."""

    def __init__(self, *replies: Reply, then: Handler):
        self.replies = list(replies)
        self.then = then
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        with self.lock:
            if self.replies:
                return self.replies.pop(0)
        return self.then(request)


def google_error(status: int, reason: str, message: str) -> Reply:
    """The error body Google APIs (Custom Search, YouTube) send."""
    return Reply(status, {"error": {"code": status, "message": message, "errors": [
        {"message": message, "domain": "youtube.quota" if "quota" in reason.lower()
         else "global", "reason": reason}]}})


class FakeApi:
    def __init__(self):
        self.routes: dict[str, Handler] = {}
        self.log: list[Request] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, path: str, handler: Handler | Reply) -> None:
        self.routes[path] = handler if callable(handler) else (lambda _r, h=handler: h)

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.log if r.path == path]

    def start(self) -> FakeApi:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeApi:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def serve_articles(self, count: int, offset: int = 500) -> FakeApi:
        """Article pages /a/0 ... /a/<count-1>, each with its own text."""
        for i in range(count):
            self.route(f"/a/{i}", Reply(body=article_html(f"Article {i}", article_text(offset + i))))
        return self

    def _handler_class(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self.command, parts.path,
                                  {k: v[-1] for k, v in parse_qs(parts.query).items()},
                                  dict(self.headers), self.rfile.read(length) if length else b"")
                api.log.append(request)
                handler = api.routes.get(parts.path)
                reply = handler(request) if handler else Reply(404, "not found", content_type="text/plain")
                if reply.drop:
                    self.close_connection = True
                    return
                body, content_type = reply.payload()
                self.send_response(reply.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = _serve
            do_POST = _serve

        return Handler


# --- article pages -----------------------------------------------------------------------

WORDS = ["allies", "ministers", "defence", "budget", "summit", "alliance", "treaty", "members", "security", "army", "border", "talks", "pledge", "spending", "support", "vote", "parliament", "government", "leaders", "agreement", "troops", "exercise", "region", "pressure", "plan", "meeting", "officials", "policy", "threat", "response", "cooperation", "unity", "capital", "foreign", "minister", "report", "analysts", "sanctions"]


def article_text(seed: int, words: int = 160) -> str:
    rng = random.Random(seed)
    sentences = []
    while sum(len(s.split()) for s in sentences) < words:
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 14)))
        sentences.append(f"NATO {body}.")
    return " ".join(sentences)


def article_html(title: str, text: str, date: str | None = "2026-03-02",
                 author: str = "Jane Reporter") -> str:
    meta = f'<meta property="article:published_time" content="{date}T09:00:00Z">' if date else ""
    paragraphs = "".join(f"<p>{p}.</p>" for p in text.split(". ") if p)
    return (f"<html><head><title>{title}</title>{meta}<meta name=\"author\" content=\"{author}\">"
            f"</head><body><nav>Home | World</nav><article><h1>{title}</h1>{paragraphs}"
            f"</article><footer>Copyright</footer></body></html>")


# --- settings for tests ------------------------------------------------------------------

FAST = {
    "HTTP_TIMEOUT_S": "5", "HTTP_MAX_RETRIES": "3", "HTTP_BACKOFF_BASE_S": "0.01",
    "HTTP_BACKOFF_MAX_S": "0.05", "HTTP_RETRY_AFTER_MAX_S": "0.05", "INGEST_BATCH_SIZE": "3",
    "GDELT_REQUESTS_PER_SECOND": "0", "GOOGLE_REQUESTS_PER_SECOND": "0",
    "RSS_REQUESTS_PER_SECOND": "0", "YOUTUBE_REQUESTS_PER_SECOND": "0",
    "REDDIT_REQUESTS_PER_SECOND": "0", "ARTICLE_REQUESTS_PER_SECOND": "0",
}


def configure(monkeypatch, **values: str):
    """Point the settings at the fake server: FAST defaults plus ``values``."""
    from analytics.core.settings import get_settings, reset_settings_cache

    for name, value in {**FAST, **values}.items():
        monkeypatch.setenv(f"ANALYTICS_{name.upper()}", str(value))
    reset_settings_cache()
    return get_settings()


def stored(database_url: str) -> list:
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from analytics.store import Document, session_scope

    with session_scope(database_url) as session:
        return list(session.scalars(select(Document).order_by(Document.id)
                                    .options(selectinload(Document.comments))))


def last_run(database_url: str, kind: str = "ingest"):
    """The newest run of a kind (a scheduled run ends with its 'alerts' run)."""
    from sqlalchemy import select

    from analytics.store import Run, session_scope

    with session_scope(database_url) as session:
        return session.scalars(select(Run).where(Run.kind == kind)
                               .order_by(Run.id.desc()).limit(1)).one()
