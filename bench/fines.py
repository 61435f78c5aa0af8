"""The fines ledger at a large library's scale: the library system's loan export through the
real command line (first import, then the same file again), the bank's postings, and what
the "no debt" rule now costs each decision.

    python -m bench.fines [--patrons 25000] [--loans-each 4] [--backend both]

Imports run as `python -m empikgo_mailer ...` in a child process, so the peak resident
memory printed is that of the command alone. The rule's cost is measured in process: the
ledger of one patron (loans and payments, two indexed queries) read inside a transaction.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench.servers import database, seed_patrons
from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.store import Store
from empikgo_mailer.bootstrap import bootstrap
from empikgo_mailer.config import load_settings
from tests.support.config import write_config

NOW = "2026-11-16T09:00"
TODAY = date(2026, 11, 16)
LOCATIONS = ("multimedia", "w63", "czytelnia-naukowa")


def write_loans(path: Path, cards: list[str], each: int) -> list[tuple[str, str, int]]:
    """Loans as an ILS exports them; returns (card, location, fine) of late returns, which
    the bank statement then pays."""
    rnd = random.Random(5)
    late: list[tuple[str, str, int]] = []
    with path.open("w", encoding="utf-8") as out:
        out.write(
            "card_number;item_barcode;location;borrowed_on;due_on;returned_on;renewals_used;"
            "renewal_limit;on_hold\n"
        )
        for n, card in enumerate(cards):
            for k in range(each):
                where = rnd.choice(LOCATIONS)
                borrowed = TODAY - timedelta(days=rnd.randint(5, 80))
                due = borrowed + timedelta(days=30)
                kind = rnd.random()
                returned = ""
                if kind < 0.70:  # back on time
                    returned = min(due, TODAY).isoformat()
                elif kind < 0.85 and due < TODAY:  # back late
                    back = min(due + timedelta(days=rnd.randint(1, 20)), TODAY)
                    returned = back.isoformat()
                    rate = 50 if where == "w63" else 30
                    late.append((card, where, rate * (back - due).days))
                out.write(
                    f"{card};{n:07d}-{k};{where};{borrowed.isoformat()};{due.isoformat()};"
                    f"{returned};{rnd.randint(0, 2)};2;{'tak' if rnd.random() < 0.05 else 'nie'}\n"
                )
    return late


def write_statement(path: Path, late: list[tuple[str, str, int]], count: int) -> int:
    """Postings for returned late items at locations that take transfers; one per patron
    and location, repeated once in every hundred lines as banks' exports sometimes do."""
    owed: dict[tuple[str, str], int] = {}
    for card, where, fine in late:
        if where != "czytelnia-naukowa" and fine:
            owed[(card, where)] = owed.get((card, where), 0) + fine
    lines = ["posting_id,posted_on,card_number,location,amount"]
    for n, ((card, where), grosze) in enumerate(list(owed.items())[:count]):
        line = f"TX{n:08d},2026-11-16,{card},{where},{grosze // 100}.{grosze % 100:02d}"
        lines.append(line)
        if n % 100 == 0:
            lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


def command(config: Path, *args: str) -> tuple[float, float]:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "empikgo_mailer", "--config", str(config), *args, "--now", NOW],
        check=False,  # the statement deliberately repeats postings: exit 0 or 4
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def debt_rule_cost(config: Path, cards: list[str], samples: int) -> list[float]:
    app = bootstrap(load_settings(config, {}))
    db: Database = app.db
    rnd = random.Random(11)
    timings = []
    try:
        for card in rnd.sample(cards, samples):
            with db.transaction() as session:
                store = Store(session)
                patron = store.patron_by_card(card)
                assert patron is not None
                started = time.perf_counter()
                app.debt_source.debts_of(store, [patron], TODAY)  # a request's batch of one
                timings.append((time.perf_counter() - started) * 1000)
    finally:
        db.dispose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patrons", type=int, default=25_000)
    parser.add_argument("--loans-each", type=int, default=4)
    parser.add_argument("--postings", type=int, default=5_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    loans = args.patrons * args.loans_each
    for backend in backends:
        with tempfile.TemporaryDirectory() as temp, database(backend, Path(temp)) as url:
            directory = Path(temp)
            config = write_config(directory, url)
            cards = [f"{n:08d}" for n in range(args.patrons)]
            db = Database(url, 15)
            seed_patrons(db, cards)
            db.dispose()
            export = directory / "loans.csv"
            late = write_loans(export, cards, args.loans_each)
            for label in ("first", "again"):
                seconds, peak = command(config, "loans", "import", str(export))
                print(
                    f"{backend:<10} loans import ({label}) rows={loans} seconds={seconds:.2f} "
                    f"rows/s={loans / seconds:.0f} peak_rss_mb={peak:.0f}"
                )
            statement = directory / "bank.csv"
            rows = write_statement(statement, late, args.postings)
            seconds, peak = command(config, "fines", "post-transfers", str(statement))
            print(
                f"{backend:<10} fines post-transfers rows={rows} seconds={seconds:.2f} "
                f"rows/s={rows / seconds:.0f} peak_rss_mb={peak:.0f}"
            )
            timings = debt_rule_cost(config, cards, 2000)
            cuts = statistics.quantiles(timings, n=100)
            print(
                f"{backend:<10} 'no debt' from the ledger per decision: "
                f"p50={cuts[49]:.2f} ms p95={cuts[94]:.2f} ms p99={cuts[98]:.2f} ms"
            )


if __name__ == "__main__":
    main()
