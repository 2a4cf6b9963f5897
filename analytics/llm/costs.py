"""Token estimates, prices and the run budget of paid calls."""

from __future__ import annotations

from analytics.core.settings import Settings

CHARS_PER_TOKEN = 3.5  # conservative (real text is ~4): estimates err on the expensive side


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


def messages_tokens(messages: list[dict[str, str]]) -> int:
    return sum(estimate_tokens(m["content"]) + 4 for m in messages)


def price_of(settings: Settings, model: str) -> tuple[float, float] | None:
    return settings.llm.prices.get(model)


def cost_usd(settings: Settings, model: str, tokens_in: int, tokens_out: int) -> float:
    price = price_of(settings, model)
    if price is None:
        return 0.0
    return (tokens_in * price[0] + tokens_out * price[1]) / 1_000_000


class Budget:
    """Run cost cap. A call reserves its worst-case cost first; the real cost settles it."""

    def __init__(self, limit_usd: float | None):
        self.limit = limit_usd
        self.spent = 0.0
        self.reserved = 0.0
        self.exhausted = False

    def reserve(self, amount: float) -> bool:
        if self.limit is not None and self.spent + self.reserved + amount > self.limit:
            self.exhausted = True
            return False
        self.reserved += amount
        return True

    def settle(self, reserved: float, actual: float) -> None:
        self.reserved = max(self.reserved - reserved, 0.0)
        self.spent += actual
