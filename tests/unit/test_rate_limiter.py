"""The per-card limit of the claim endpoint, on an injected clock."""

from __future__ import annotations

from empikgo_mailer.entrypoints.web import RateLimiter


def test_a_sliding_window_per_card_that_forgets_idle_cards() -> None:
    now = [0.0]
    limiter = RateLimiter(2, window=60.0, clock=lambda: now[0])
    assert limiter.retry_after("A") is None
    now[0] = 1.0
    assert limiter.retry_after("A") is None
    now[0] = 2.0
    assert limiter.retry_after("A") == 58.0
    assert limiter.retry_after("B") is None  # another card is not slowed down
    now[0] = 60.5
    assert limiter.retry_after("A") is None  # the first hit left the window
    now[0] = 130.0
    assert limiter.retry_after("C") is None
    assert set(limiter._hits) == {"C"}  # A and B were idle for a whole window
