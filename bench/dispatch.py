"""What the one dispatcher costs: the same eligibility checks called directly and through
`app.handle`, on SQLite, and how fast a card number is read.

    python -m bench.dispatch [--checks 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

from bench.servers import database, seed_patrons
from empikgo_mailer.adapters.database import Database
from empikgo_mailer.bootstrap import HANDLERS, App, bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.domain.card_number import CardNumber
from empikgo_mailer.handlers.codes import CheckEligibility, check_eligibility
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.library import Library
from tests.support.card_cases import CARD_CASES
from tests.support.config import write_config

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Europe/Warsaw"))


@dataclass(frozen=True)
class _Nothing(Command[None]):
    """A command whose handler does nothing: what is left is the dispatcher."""


def _nothing(command: _Nothing, *, db: Database, library: Library, now: datetime) -> None:
    return None


def _pure_overhead(app: App, calls: int = 200_000) -> None:
    cast(dict[type, Callable[..., object]], HANDLERS)[_Nothing] = _nothing
    command = _Nothing()
    started = time.perf_counter()
    for _ in range(calls):
        _nothing(command, db=app.db, library=app.library, now=NOW)
    direct = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(calls):
        app.handle(command, now=NOW)
    dispatched = time.perf_counter() - started
    print(
        f"[dispatch] a no-op handler: {direct / calls * 1e6:.2f} µs called directly, "
        f"{dispatched / calls * 1e6:.2f} µs through app.handle ({calls:,} calls)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cards = [f"{1_000_000 + n}" for n in range(args.checks)]
    with tempfile.TemporaryDirectory() as tmp, database("sqlite", Path(tmp)) as url:
        app = bootstrap(load_settings(write_config(Path(tmp), url), {}))
        seed_patrons(app.db, cards)
        commands = [CheckEligibility(card, branch_id="w63") for card in cards]
        for command in commands[:100]:  # warm the caches and the connection pool
            app.handle(command, now=NOW)
        # Alternating rounds, best of each: the machine's noise falls on both alike.
        timings = {"direct": float("inf"), "app.handle": float("inf")}
        for _ in range(args.rounds):
            for label in ("direct", "app.handle"):
                started = time.perf_counter()
                for command in commands:
                    if label == "app.handle":
                        app.handle(command, now=NOW)
                    else:
                        check_eligibility(
                            command,
                            uow=app.uow(),
                            library=app.library,
                            debt_source=app.debt_source,
                            now=NOW,
                        )
                timings[label] = min(timings[label], time.perf_counter() - started)
        app.db.dispose()
    for label, seconds in timings.items():
        print(
            f"[dispatch] {label:<10} {args.checks} checks in {seconds:.2f} s = "
            f"{args.checks / seconds:,.0f}/s, {seconds / args.checks * 1e6:,.0f} µs each "
            f"(best of {args.rounds})"
        )
    overhead = (timings["app.handle"] - timings["direct"]) / args.checks * 1e6
    print(f"[dispatch] app.handle costs {overhead:+.1f} µs per command over a direct call")

    _pure_overhead(app)

    typed = [text for text, _ in CARD_CASES] * 20_000
    started = time.perf_counter()
    for text in typed:
        CardNumber.parse(text)
    seconds = time.perf_counter() - started
    print(
        f"[cards] {len(typed):,} card numbers read in {seconds:.2f} s = "
        f"{len(typed) / seconds:,.0f}/s ({seconds / len(typed) * 1e6:.2f} µs each)"
    )


if __name__ == "__main__":
    main()
