"""Desk claims from one pool by several processes at once: claims per second, per database.

    python -m bench.claims [--processes 4] [--patrons 2000] [--codes 1500]

Every patron is tried by two processes; the run checks that no code and no patron was
used twice before it prints the figures.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.servers import database, seed_patrons
from empikgo_mailer.adapters.database import Database
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from tests.support.config import write_config
from tests.support.data import add_codes
from tests.support.race import race


def _seed(url: str, cards: list[str], codes: int) -> None:
    db = Database(url)
    seed_patrons(db, cards)
    add_codes(
        db,
        Platform.EMPIK_GO,
        Month(2026, 11),
        "multimedia",
        [f"CODE-{n:06d}" for n in range(codes)],
    )
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--patrons", type=int, default=2000)
    parser.add_argument("--codes", type=int, default=1500)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    now = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Europe/Warsaw"))
    for backend in backends:
        with tempfile.TemporaryDirectory() as temp, database(backend, Path(temp)) as url:
            cards = [f"C{n:06d}" for n in range(args.patrons)]
            _seed(url, cards, args.codes)
            result = race(write_config(Path(temp), url), url, cards, args.processes, now)
            granted = [(card, code) for card, code, _ in result.outcomes if code is not None]
            assert len(granted) == min(args.codes, args.patrons)
            assert len({code for _, code in granted}) == len(granted)
            assert len({card for card, _ in granted}) == len(granted)
            print(
                f"{backend:<10} processes={args.processes} claims={result.attempts} "
                f"granted={len(granted)} seconds={result.seconds:.2f} "
                f"claims/s={result.claims_per_second:.0f}"
            )


if __name__ == "__main__":
    main()
