"""Client-side rate limits of an endpoint: requests and tokens per minute, shared by every
process through the database."""

from __future__ import annotations

import asyncio


class SharedRateLimiter:
    """Two buckets (requests and tokens per minute) kept in the database
    (``store.ledger.take_rate``), so every process and machine sending to one endpoint and
    model shares one limit. The difference between the estimated and the real tokens of a
    call is charged with the next take.

    A process takes a small lease at a time (up to ``lease`` requests, never more than one
    second's worth of either limit) and spends it locally: one database transaction per
    lease instead of per call, which is what lets workers scale. A lease only ever takes
    from the shared bucket, so together the processes never exceed the limit; capacity a
    process leased but did not use is lost (it errs on the side of sending less)."""

    def __init__(self, database_url: str, name: str, requests_per_minute: int,
                 tokens_per_minute: int, lease: int = 1):
        self.database_url, self.name = database_url, name[:255]
        self.capacity = (float(requests_per_minute), float(tokens_per_minute))
        self.lease = max(1, min(int(lease), int(self.capacity[0] // 60)))
        self._correction = 0.0
        self._held = [0.0, 0.0]  # leased requests and tokens not yet spent
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def acquire(self, tokens: float) -> None:
        tokens = min(float(tokens), self.capacity[1])
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # asyncio locks belong to one event loop
            self._lock, self._loop = asyncio.Lock(), loop
        async with self._lock:
            if self._held[0] < 1 or self._held[1] < tokens:
                await self._take_lease(tokens)
            self._held[0] -= 1
            self._held[1] -= tokens

    async def _take_lease(self, tokens: float) -> None:
        from analytics.store.ledger import take_rate

        requests = float(self.lease)
        lease_tokens = max(tokens, min(requests * tokens, self.capacity[1] / 60.0))
        lease_tokens = max(0.0, lease_tokens - self._held[1])
        while True:
            correction, self._correction = self._correction, 0.0
            wait = await asyncio.to_thread(take_rate, self.database_url, self.name,
                                           *self.capacity, lease_tokens, correction, requests)
            if wait <= 0:
                self._held[0] += requests
                self._held[1] += lease_tokens
                return
            await asyncio.sleep(min(wait, 5.0))

    def correct(self, estimated: float, actual: float) -> None:
        self._correction += actual - min(estimated, self.capacity[1])
