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
from dataclasses import dataclass, field
from typing import Any

from analytics.core.errors import UserError
from analytics.core.settings import Settings
from analytics.llm.costs import Budget, cost_usd, messages_tokens, price_of
from analytics.llm.prompting import repair_message
from analytics.llm.ratelimit import RateLimiter

OPENAI_HOST = "api.openai.com"


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

    cls = openai.AsyncOpenAI if asynchronous else openai.OpenAI
    return cls(api_key=api_key(settings), base_url=settings.llm.base_url,
               timeout=settings.llm.timeout_s, max_retries=settings.llm.max_retries)


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
    status = getattr(exc, "status_code", None)
    label = f"HTTP {status}" if status else type(exc).__name__
    return f"endpoint error after retries ({label}): {str(exc)[:300]}"


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
    calls: int = 0  # completions sent (repairs included) by this client
    _client: Any = None
    _abort: LLMAbort | None = None  # once set, no further call is sent
    _limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.model = self.model or self.settings.llm.model
        self._limiter = RateLimiter(self.settings.llm.requests_per_minute,
                                    self.settings.llm.tokens_per_minute)

    def price_known(self) -> bool:
        return price_of(self.settings, self.model) is not None

    def worst_cost(self, tokens_in: int) -> float:
        return cost_usd(self.settings, self.model, tokens_in, self.settings.llm.max_tokens)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[ChatClient]:
        """Open the async client for one event loop."""
        self._client = make_client(self.settings)
        self._limiter.reset_loop()
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
        await self._limiter.acquire(estimated_in + llm.max_tokens)
        if self._abort is not None:  # another call hit a run-stopping error meanwhile
            raise self._abort
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
            try:
                reply = await self._complete(messages, response_format, estimated_in)
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as exc:
                if budget is not None:
                    budget.settle(reserve, 0.0)
                stop = exc if isinstance(exc, LLMAbort) else abort_for(exc, self.settings)
                if stop is not None:
                    self._abort = stop
                    raise stop from exc
                usage.transient = is_transient(exc)
                return None, describe_failure(exc), usage
            actual = cost_usd(self.settings, self.model, reply.tokens_in, reply.tokens_out)
            if budget is not None:
                budget.settle(reserve, actual)
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
