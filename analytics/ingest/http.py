"""The one HTTP layer every provider uses: httpx + tenacity.

- timeouts on every request;
- retries with exponential backoff on 5xx, connection errors and truncated/invalid JSON;
- a 429 waits for the server's ``Retry-After`` (capped by a setting), then retries;
- any other 4xx is not retried: 401/403 become a ``CredentialsError`` (or a provider's own
  error, e.g. YouTube's ``quotaExceeded``) with a message that says what to do;
- a requests-per-second limit per client (one client per provider and run).
"""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections.abc import Callable
from typing import Any, Self

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from analytics.core.errors import UserError
from analytics.core.settings import Settings


class IngestError(UserError):
    """An error a user can act on; its message is shown as is (no traceback)."""


class CredentialsError(IngestError):
    """A key or secret is missing, or the service rejected it."""


class QuotaExceededError(IngestError):
    """The service (or our own daily budget) says no more requests today."""


class RequestFailedError(IngestError):
    """A request failed for good (4xx other than 429, or retries exhausted)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class _Transient(Exception):
    """Internal: worth another try (5xx, 429, invalid JSON)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def require(value: Any, setting: str, provider: str) -> str:
    """The secret's value, or a CredentialsError naming the setting to set."""
    if value is None or (hasattr(value, "get_secret_value") and not value.get_secret_value()):
        raise CredentialsError(
            f"{provider}: no credentials. Set ANALYTICS_{setting.upper()} (environment, .env "
            f"or .streamlit/secrets.toml); see docs/INGESTION.md.")
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def google_error_reason(response: httpx.Response) -> tuple[str | None, str]:
    """(reason, message) of a Google API error body ({"error": {"errors": [{"reason"}]}})."""
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        return None, response.text[:200]
    if not isinstance(error, dict):
        return None, str(error)[:200]
    reasons = [e.get("reason") for e in error.get("errors", []) if isinstance(e, dict)]
    for detail in error.get("details", []) or []:
        if isinstance(detail, dict) and detail.get("reason"):
            reasons.append(detail["reason"])
    return (reasons[0] if reasons else error.get("status")), str(error.get("message", ""))[:300]


class RateLimiter:
    """At most ``per_second`` starts per second, shared by the threads of one client."""

    def __init__(self, per_second: float):
        self.interval = 1.0 / per_second if per_second and per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


ErrorClassifier = Callable[[httpx.Response], Exception | None]
ResponseHook = Callable[[httpx.Response], None]


class HttpClient:
    """A provider's HTTP client. Thread-safe; close it (or use ``with``) when done."""

    def __init__(self, provider: str, settings: Settings, requests_per_second: float,
                 *, headers: dict[str, str] | None = None,
                 classify_error: ErrorClassifier | None = None,
                 on_response: ResponseHook | None = None):
        self.provider = provider
        self.settings = settings
        self.limiter = RateLimiter(requests_per_second)
        self.classify_error = classify_error
        self.on_response = on_response
        self.requests = 0
        self.client = httpx.Client(
            timeout=settings.ingest.http_timeout_s, follow_redirects=True,
            headers={"User-Agent": settings.ingest.http_user_agent, **(headers or {})})

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    # --- retry policy ------------------------------------------------------------------
    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Transient) and error.retry_after is not None:
            return min(error.retry_after, self.settings.ingest.http_retry_after_max_s)
        backoff = wait_exponential_jitter(multiplier=self.settings.ingest.http_backoff_base_s,
                                          max=self.settings.ingest.http_backoff_max_s,
                                          jitter=self.settings.ingest.http_backoff_base_s / 2)
        return backoff(state)

    def request(self, method: str, url: str, *, parse_json: bool = False,
                **kwargs: Any) -> httpx.Response | Any:
        """One logical request with the retry policy; JSON decoded when ``parse_json``."""
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.ingest.http_max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type((_Transient, httpx.TransportError)),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._once(method, url, parse_json, **kwargs)
        except _Transient as exc:
            raise RequestFailedError(
                f"{self.provider}: {exc} (gave up after {self.settings.ingest.http_max_retries} "
                f"retries)") from exc
        except httpx.TransportError as exc:
            raise RequestFailedError(
                f"{self.provider}: cannot reach {_host(url)} ({type(exc).__name__}: {exc}); "
                f"gave up after {self.settings.ingest.http_max_retries} retries.") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def get_json(self, url: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.request("GET", url, params=params, parse_json=True, **kwargs)

    def _once(self, method: str, url: str, parse_json: bool, **kwargs: Any) -> Any:
        self.limiter.wait()
        self.requests += 1
        response = self.client.request(method, url, **kwargs)
        if self.on_response:
            self.on_response(response)
        status = response.status_code
        if status == 429:
            raise _Transient(f"HTTP 429 (rate limited) from {_host(url)}",
                             parse_retry_after(response.headers.get("Retry-After")))
        if status >= 500:
            raise _Transient(f"HTTP {status} from {_host(url)}",
                             parse_retry_after(response.headers.get("Retry-After")))
        if status >= 400:
            raise self._client_error(response)
        if not parse_json:
            return response
        return _decode_json(response, self.provider)

    def _client_error(self, response: httpx.Response) -> Exception:
        if self.classify_error:
            specific = self.classify_error(response)
            if specific is not None:
                return specific
        status = response.status_code
        if status in (401, 403):
            return CredentialsError(
                f"{self.provider}: the service rejected the credentials (HTTP {status}). "
                f"Check the key/secret settings; see docs/INGESTION.md.")
        return RequestFailedError(
            f"{self.provider}: HTTP {status} from {_host(str(response.url))}: "
            f"{response.text[:200]}", status)


def _decode_json(response: httpx.Response, provider: str) -> Any:
    """JSON body; a cut-off body is retried, a non-JSON answer (an error page, GDELT's
    plain-text query errors) is not: it will not change on a retry."""
    text = response.text.lstrip()
    if text and text[0] not in "{[":
        raise RequestFailedError(
            f"{provider}: expected JSON from {_host(str(response.url))}, got: "
            f"{' '.join(text[:200].split())}", response.status_code)
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _Transient(
            f"invalid or truncated JSON from {_host(str(response.url))}") from exc


def _host(url: str) -> str:
    return httpx.URL(url).host or url
