"""Client-side rate limits of an endpoint: requests and tokens per minute."""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    """Two token buckets (requests and tokens per minute), refilled continuously."""

    def __init__(self, requests_per_minute: int, tokens_per_minute: int):
        self.capacity = (float(requests_per_minute), float(tokens_per_minute))
        self.level = list(self.capacity)
        self.updated = time.monotonic()
        self._lock: asyncio.Lock | None = None

    def reset_loop(self) -> None:
        """asyncio primitives belong to one event loop: call when a new loop starts."""
        self._lock = None

    def _refill(self) -> None:
        now = time.monotonic()
        elapsed, self.updated = now - self.updated, now
        for i, cap in enumerate(self.capacity):
            self.level[i] = min(cap, self.level[i] + elapsed * cap / 60.0)

    def wait_needed(self, tokens: float) -> float:
        self._refill()
        need = (1.0, min(tokens, self.capacity[1]))
        return max(0.0, *((n - lvl) * 60.0 / cap
                          for n, lvl, cap in zip(need, self.level, self.capacity, strict=True)))

    async def acquire(self, tokens: float) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # first come, first served
            while (wait := self.wait_needed(tokens)) > 0:
                await asyncio.sleep(wait)
            self.level[0] -= 1.0
            self.level[1] -= min(tokens, self.capacity[1])

    def correct(self, estimated: float, actual: float) -> None:
        """Charge the difference once the real token count is known."""
        self.level[1] -= actual - min(estimated, self.capacity[1])


class SharedRateLimiter:
    """The same two buckets kept in the database (``store.ledger.take_rate``), so every
    process and machine sending to one endpoint and model shares one limit. The difference
    between the estimated and the real tokens of a call is charged with the next take."""

    def __init__(self, database_url: str, name: str, requests_per_minute: int,
                 tokens_per_minute: int):
        self.database_url, self.name = database_url, name[:255]
        self.capacity = (float(requests_per_minute), float(tokens_per_minute))
        self._correction = 0.0

    async def acquire(self, tokens: float) -> None:
        from analytics.store.ledger import take_rate

        while True:
            correction, self._correction = self._correction, 0.0
            wait = await asyncio.to_thread(take_rate, self.database_url, self.name,
                                           *self.capacity, tokens, correction)
            if wait <= 0:
                return
            await asyncio.sleep(min(wait, 5.0))

    def correct(self, estimated: float, actual: float) -> None:
        self._correction += actual - min(estimated, self.capacity[1])
