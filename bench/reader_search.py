"""Finding a reader by name, e-mail and card among 50,000, and searching a branch's mail,
through the dispatcher as the console does: milliseconds per search (median and worst).

    python -m bench.reader_search [--patrons 50000] [--mail 20000] [--backend both]

The gate (issue 31): a name search under 100 ms for 50,000 readers.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.servers import database
from empikgo_mailer.adapters.tables import MailRequest
from empikgo_mailer.bootstrap import App, bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.domain.statuses import RequestKind, RequestStatus
from empikgo_mailer.handlers.mail_search import FindReaders, ListMail
from tests.support.config import MAIL_ENV, write_config

FIRST = ["Łukasz", "Zofia", "Jan", "Anna", "Grzegorz", "Małgorzata", "Piotr", "Katarzyna",
         "Joanna", "Tomasz", "Ewa", "Michał", "Agnieszka", "Paweł", "Barbara", "Krzysztof"]  # fmt: skip
LAST = ["Żak", "Wiśniewska", "Kowalski", "Nowak", "Dąbrowska", "Lewandowski", "Wójcik",
        "Kamińska", "Zieliński", "Szymańska", "Woźniak", "Kozłowski", "Jankowska", "Mazur",
        "Krawczyk", "Piotrowski", "Grabowska", "Nowakowski", "Pawłowska", "Michalski"]  # fmt: skip
NOW = datetime(2026, 11, 2, 11, 30, tzinfo=UTC)
SEARCHES = {
    "name, two words, no diacritics (zak lukasz)": "zak lukasz",
    "name, one common word (nowak)": "nowak",
    "name, the beginnings of two words (kow an)": "kow an",
    "a name nobody has (Brzęczyszczykiewicz)": "Brzęczyszczykiewicz",
    "e-mail, other case": "READER31337@example.com",
    "card": "00031337",
}


def seed(app: App, patrons: int, mail: int) -> None:
    rnd = random.Random(31)
    rows = [
        {
            "card_number": f"{n:08d}", "first_name": rnd.choice(FIRST),
            "last_name": rnd.choice(LAST), "email": f"reader{n}@example.com", "active": True,
            "contact_confirmed_on": date(2026, 9, 1), "opening_balance_grosze": 0,
            "updated_at": NOW,
        }
        for n in range(patrons)
    ]  # fmt: skip
    with app.db.transaction() as session:
        from empikgo_mailer.adapters.store import Store  # noqa: PLC0415

        store = Store(session)
        for start in range(0, len(rows), 5_000):
            store.insert_patrons(rows[start : start + 5_000])
        start_at = NOW - timedelta(days=60)
        session.add_all(
            MailRequest(
                branch_id="w63", uidvalidity=1, uid=n, fingerprint=f"sid:{n}",
                received_at=start_at + timedelta(minutes=n), sender=f"reader{n}@example.com",
                subject="EMPIK GO", kind=RequestKind.REQUEST, card_number=f"{n:08d}",
                status=RequestStatus.DECIDED, outcome="issued",
                decided_at=start_at + timedelta(minutes=n), created_at=start_at,
            )
            for n in range(mail)
        )  # fmt: skip


def timed(work: Callable[[], object], repeat: int) -> tuple[float, float]:
    work()  # warm: the first statement prepares, the cache fills
    took = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        took.append((time.perf_counter() - started) * 1000)
    return statistics.median(took), max(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patrons", type=int, default=50_000)
    parser.add_argument("--mail", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        with tempfile.TemporaryDirectory() as temp, database(backend, Path(temp)) as url:
            app = bootstrap(load_settings(write_config(Path(temp), url), MAIL_ENV))
            seed(app, args.patrons, args.mail)
            print(f"{backend}: {args.patrons} readers, {args.mail} messages in one branch")
            for label, text in SEARCHES.items():
                found = len(app.handle(FindReaders(text)))
                median, worst = timed(functools.partial(app.handle, FindReaders(text)), args.repeat)
                print(f"  {label}: {median:.1f} ms median, {worst:.1f} ms worst ({found} found)")
            for label, show, text in (
                ("queue, every message, page 1", "", ""),
                ("queue, by reader name (zak lukasz)", "", "zak lukasz"),
                ("queue, by sender (reader31337@)", "", "reader31337@"),
                ("queue, by outcome, last page", "issued", ""),
            ):
                page = 10_000 if label.endswith("last page") else 1
                query = ListMail("w63", show, text, page)
                median, worst = timed(functools.partial(app.handle, query, now=NOW), args.repeat)
                print(f"  {label}: {median:.1f} ms median, {worst:.1f} ms worst")
            app.db.dispose()


if __name__ == "__main__":
    main()
