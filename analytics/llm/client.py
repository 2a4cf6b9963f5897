"""The OpenAI-compatible chat client: one structured call with one repair, errors sorted
into "stop the run" and "retry this later", rate limits, cost and budget.

HTTP 429/5xx/timeouts are retried by the openai SDK (exponential backoff, Retry-After
honoured, ``llm.max_retries``); what still fails comes back as a transient error. 401/403,
an unknown model or an unreachable endpoint raise ``LLMAbort`` with one message.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from analytics.core.errors import UserError
from analytics.core.redact import configured_secrets, redact
from analytics.core.settings import Settings
from analytics.llm.costs import Budget, cost_usd, messages_tokens, price_of
from analytics.llm.prompting import repair_message
from analytics.llm.ratelimit import SharedRateLimiter
from analytics.store.ledger import CallRecord

OPENAI_HOST = "api.openai.com"
# Every HTTP attempt of the current call (the SDK retries inside one ``create``): its status
# code, or None when the request was sent and no answer came (a timeout: maybe billed).
_attempts: ContextVar[list[int | None] | None] = ContextVar("analytics_llm_attempts",
                                                            default=None)


def _attempt_log():
    """An HTTP transport (of the SDK's own httpx) that notes each attempt in ``_attempts``;
    the real transport does the work."""
    import httpx2

    class AttemptLog(httpx2.AsyncBaseTransport):
        def __init__(self) -> None:
            self._inner = httpx2.AsyncHTTPTransport(
                limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100))

        async def handle_async_request(self, request):
            attempts = _attempts.get()
            try:
                response = await self._inner.handle_async_request(request)
            except (httpx2.ReadTimeout, httpx2.WriteTimeout):
                if attempts is not None:
                    attempts.append(None)
                raise
            if attempts is not None:
                attempts.append(response.status_code)
            return response

        async def aclose(self) -> None:
            await self._inner.aclose()

    return AttemptLog()


class LLMAbort(UserError):
    """The run cannot go on (bad API key, unreachable endpoint, unknown model).

    The message says what to do; callers keep what was already done and the CLI and pages
    show the message alone, without a traceback.
    """


def api_key(settings: Settings) -> str:
    if settings.llm.api_key is not None:
        return settings.llm.api_key.get_secret_value()
    if OPENAI_HOST in settings.llm.base_url:
        raise LLMAbort(
            "No API key for the OpenAI endpoint: set ANALYTICS_OPENAI_API_KEY (environment) or "
            "openai_api_key in .streamlit/secrets.toml, or point ANALYTICS_OPENAI_BASE_URL at a "
            "local server (Ollama, vLLM, llama.cpp), or use the offline backend.")
    return "not-needed"  # local servers ignore the key but the SDK wants one


def make_client(settings: Settings, asynchronous: bool = True):
    import openai

    if not asynchronous:
        return openai.OpenAI(api_key=api_key(settings), base_url=settings.llm.base_url,
                             timeout=settings.llm.timeout_s, max_retries=settings.llm.max_retries)
    return openai.AsyncOpenAI(
        api_key=api_key(settings), base_url=settings.llm.base_url,
        timeout=settings.llm.timeout_s, max_retries=settings.llm.max_retries,
        http_client=openai.DefaultAsyncHttpxClient(transport=_attempt_log()))


def abort_for(exc: Exception, settings: Settings) -> LLMAbort | None:
    """The run-stopping message for an SDK error, or None when only this call failed."""
    import openai

    where = settings.llm.base_url
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return LLMAbort(
            f"The endpoint {where} refused the API key (HTTP {exc.status_code}). Check "
            "ANALYTICS_OPENAI_API_KEY (environment or .streamlit/secrets.toml) and its access "
            "to the model. Nothing more was sent; what was finished so far is kept.")
    if isinstance(exc, openai.NotFoundError):
        return LLMAbort(
            f"The endpoint {where} does not know model '{settings.llm.model}' or the path "
            "(HTTP 404). Check ANALYTICS_OPENAI_MODEL and ANALYTICS_OPENAI_BASE_URL (it usually "
            "ends in /v1).")
    if isinstance(exc, openai.APIConnectionError) and not isinstance(exc, openai.APITimeoutError):
        return LLMAbort(
            f"Cannot reach the endpoint {where} ({exc.__cause__ or exc}). Check "
            "ANALYTICS_OPENAI_BASE_URL and that the server is running. What was finished so "
            "far is kept; re-run to continue.")
    return None


def is_transient(exc: Exception) -> bool:
    import openai

    return isinstance(exc, openai.RateLimitError | openai.InternalServerError |
                      openai.APITimeoutError | openai.ConflictError) or (
        isinstance(exc, openai.APIStatusError) and exc.status_code in (408, 409, 429, 502, 503))


def describe_failure(exc: Exception) -> str:
    """One line about a failed call; an error body that echoes the key is redacted."""
    status = getattr(exc, "status_code", None)
    label = f"HTTP {status}" if status else type(exc).__name__
    return redact(f"endpoint error after retries ({label}): {str(exc)[:300]}",
                  configured_secrets())


def short_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "(top level)"
        more = f" (+{len(errors()) - 1} more)" if len(errors()) > 1 else ""
        return f"{where}: {first.get('msg')}{more}"
    return str(exc)[:300]


@dataclass
class Usage:
    """What one structured call (with its repair) cost."""

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    transient: bool = False  # failed for a passing reason: store nothing, retry later
    possibly_billed: int = 0  # requests that timed out after being sent
    possibly_billed_usd: float = 0.0  # their worst-case cost
    requests: list[CallRecord] = field(default_factory=list)  # for the llm_calls ledger


@dataclass
class _Reply:
    content: str | None
    tokens_in: int
    tokens_out: int
    refusal: str | None = None


@dataclass
class ChatClient:
    """Chat completions with JSON-schema answers against one OpenAI-compatible endpoint."""

    settings: Settings
    model: str = ""
    purpose: str = "chat"  # recorded with each request in the ledger
    calls: int = 0  # completions sent (repairs included) by this client
    _client: Any = None
    _abort: LLMAbort | None = None  # once set, no further call is sent
    _limiter: SharedRateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.model = self.model or self.settings.llm.model
        self._limiter = SharedRateLimiter(
            self.settings.database_url, f"{redact(self.settings.llm.base_url)}|{self.model}",
            self.settings.llm.requests_per_minute, self.settings.llm.tokens_per_minute,
            lease=self.settings.llm.concurrency)

    def price_known(self) -> bool:
        return price_of(self.settings, self.model) is not None

    def worst_cost(self, tokens_in: int) -> float:
        return cost_usd(self.settings, self.model, tokens_in, self.settings.llm.max_tokens)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[ChatClient]:
        """Open the async client for one event loop."""
        self._client = make_client(self.settings)
        self._abort = None
        try:
            yield self
        finally:
            client, self._client = self._client, None
            await client.close()

    async def _complete(self, messages: list[dict[str, str]], response_format: dict,
                        estimated_in: int) -> _Reply:
        llm = self.settings.llm
        if self._client is None:
            raise RuntimeError("use 'async with client.connection()' before calling")
        self.calls += 1
        extra = {"seed": llm.seed} if llm.seed is not None else {}
        response = await self._client.chat.completions.create(
            model=self.model, messages=messages, temperature=llm.temperature,
            max_tokens=llm.max_tokens, response_format=response_format, **extra)
        usage = response.usage
        tokens_in = usage.prompt_tokens if usage else estimated_in
        tokens_out = usage.completion_tokens if usage else 0
        self._limiter.correct(estimated_in + llm.max_tokens, tokens_in + tokens_out)
        message = response.choices[0].message if response.choices else None
        return _Reply(message.content if message else None, tokens_in, tokens_out,
                      getattr(message, "refusal", None) if message else None)

    def _note_attempts(self, usage: Usage, attempts: list[int | None], worst: float) -> float:
        """Ledger rows for attempts that did not succeed; the worst-case cost of those that
        may have been billed (sent, then timed out)."""
        maybe = 0.0
        for status in attempts:
            if status is None:
                usage.possibly_billed += 1
                usage.possibly_billed_usd += worst
                maybe += worst
                usage.requests.append(CallRecord(self.purpose, self.model, "timeout", True,
                                                 cost_usd=worst))
            else:
                usage.requests.append(CallRecord(self.purpose, self.model, "error", False))
        return maybe

    async def complete_json(self, messages: list[dict[str, str]], response_format: dict,
                            parse: Callable[[str | None], Any],
                            budget: Budget | None = None) -> tuple[Any, str | None, Usage]:
        """One structured call with one repair: (parsed or None, error, usage).

        Raises LLMAbort for run-stopping errors; transient errors come back as ``error``
        with ``usage.transient``.
        """
        usage = Usage()
        error = "no call made"
        for attempt in range(2):
            estimated_in = messages_tokens(messages)
            reserve = self.worst_cost(estimated_in)
            if budget is not None and not budget.reserve(reserve):
                usage.transient = True
                return None, "run budget reached before this call", usage
            # outside the try: a database error here is not the endpoint's failure
            await self._limiter.acquire(estimated_in + self.settings.llm.max_tokens)
            if self._abort is not None:  # another call hit a run-stopping error meanwhile
                if budget is not None:
                    budget.settle(reserve, 0.0)
                raise self._abort
            attempts: list[int | None] = []
            token = _attempts.set(attempts)
            try:
                reply = await self._complete(messages, response_format, estimated_in)
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as exc:
                maybe = self._note_attempts(usage, attempts, reserve)
                if budget is not None:
                    budget.settle(reserve, maybe)
                stop = exc if isinstance(exc, LLMAbort) else abort_for(exc, self.settings)
                if stop is not None:
                    self._abort = stop
                    raise stop from exc
                usage.transient = is_transient(exc)
                return None, describe_failure(exc), usage
            finally:
                _attempts.reset(token)
            actual = cost_usd(self.settings, self.model, reply.tokens_in, reply.tokens_out)
            maybe = self._note_attempts(usage, attempts[:-1], reserve)
            usage.requests.append(CallRecord(self.purpose, self.model, "ok", False,
                                             reply.tokens_in, reply.tokens_out, actual))
            if budget is not None:
                budget.settle(reserve, actual + maybe)
            usage.calls += 1
            usage.tokens_in += reply.tokens_in
            usage.tokens_out += reply.tokens_out
            usage.cost += actual
            if reply.refusal:
                return None, f"the model refused: {reply.refusal[:300]}", usage
            try:
                return parse(reply.content), None, usage
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                error = short_error(exc)
                if attempt == 0:
                    messages = [*messages,
                                {"role": "assistant", "content": reply.content or ""},
                                repair_message(error)]
        return None, f"invalid answer after one repair request: {error}", usage
