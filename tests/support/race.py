"""Several processes giving codes from one pool at once (used by a test and a benchmark)."""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from empikgo_mailer.bootstrap import bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.handlers.codes import GiveCode, give_code

Outcome = tuple[str, str | None, str | None]  # card, code, refusal reason


@dataclass(frozen=True)
class RaceResult:
    outcomes: list[Outcome]
    seconds: float

    @property
    def attempts(self) -> int:
        return len(self.outcomes)

    @property
    def claims_per_second(self) -> float:
        return self.attempts / self.seconds


def _worker(
    config: str, url: str, cards: list[str], now_iso: str, start_at: float
) -> tuple[float, float, list[Outcome]]:
    app = bootstrap(load_settings(Path(config), {"EMPIKGO_DATABASE_URL": url}))
    now = datetime.fromisoformat(now_iso)
    # Warm the connection up so the race measures claims, not connecting.
    app.db.engine.connect().close()
    time.sleep(max(0.0, start_at - time.time()))
    started = time.time()
    outcomes: list[Outcome] = []
    for card in cards:
        decision = give_code(
            GiveCode(card, Platform.EMPIK_GO, Channel.DESK, "multimedia", actor="race"),
            uow=app.uow(),
            library=app.library,
            debt_source=app.debt_source,
            now=now,
        )
        reason = decision.refusal.reason if decision.refusal else None
        outcomes.append((card, decision.code, None if reason is None else str(reason)))
    finished = time.time()
    app.db.dispose()
    return started, finished, outcomes


def race(config: Path, url: str, cards: list[str], processes: int, now: datetime) -> RaceResult:
    """Every card is tried by two different processes, in different orders."""
    shares: list[list[str]] = [[] for _ in range(processes)]
    for index, card in enumerate(cards):
        shares[index % processes].append(card)
        shares[(index + 1) % processes].append(card)
    for number, share in enumerate(shares):
        if number % 2:
            share.reverse()
    start_at = time.time() + 3.0  # enough for every spawned process to import and connect
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        results = pool.starmap(
            _worker, [(str(config), url, share, now.isoformat(), start_at) for share in shares]
        )
    started = min(r[0] for r in results)
    finished = max(r[1] for r in results)
    return RaceResult([o for r in results for o in r[2]], finished - started)
