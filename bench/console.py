"""The staff console under a month's load: the dashboard, the queue page and the branch
list rendered by the real `web` process, with 10,000 mail requests in the month and 20
pools.

    python -m bench.console [--requests 10000] [--views 200]

Prints p50/p95 per page and the web process's peak memory (VmHWM).
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import insert

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.tables import MailRequest
from empikgo_mailer.bootstrap import bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.domain.staff import Role
from empikgo_mailer.handlers.staff import AddStaff
from empikgo_mailer.rehearsal.ports import free_port
from tests.support.browser import web_process
from tests.support.config import write_config
from tests.support.data import add_codes
from tests.support.databases import migrated_sqlite

MOMENT = datetime(2026, 11, 20, 12, 30, tzinfo=ZoneInfo("Europe/Warsaw"))
PASSWORD = "bench-haslo-2026"  # noqa: S105 -- a throwaway account in a temp database
# 17 more library-wide platforms make 20 pools with Empik Go's two and Legimi's one.
EXTRA = "".join(
    f'\n[platforms.p{n}]\nname = "Platforma {n}"\npool = "library"\n'
    f'activation_url = "https://example.org/{n}"\n'
    for n in range(17)
)
OUTCOMES = ["issued", "no-codes-left", "debt", "card-missing", None]


def _seed(url: str, requests: int) -> None:
    db = Database(url)
    month = Month(2026, 11)
    for branch in ("multimedia", "w63"):
        add_codes(db, Platform.EMPIK_GO, month, branch, [f"{branch}-{n}" for n in range(100)])
    add_codes(db, Platform.LEGIMI, month, None, [f"LGM-{n}" for n in range(100)])
    start = datetime(2026, 11, 1, tzinfo=ZoneInfo("Europe/Warsaw"))
    rows = []
    for n in range(requests):
        received = start + timedelta(seconds=n * 150)
        outcome = OUTCOMES[n % len(OUTCOMES)]
        rows.append(
            {
                "branch_id": ("multimedia", "w63")[n % 2],
                "uidvalidity": 1,
                "uid": n + 1,
                "fingerprint": f"bench-{n}",
                "received_at": received,
                "kind": "request",
                "status": "queued" if outcome is None else "decided",
                "outcome": outcome,
                "decided_at": None if outcome is None else received + timedelta(minutes=5),
                "created_at": received,
            }
        )
    with db.transaction() as session:
        session.execute(insert(MailRequest), rows)
    db.dispose()


def _peak_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--views", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        url = migrated_sqlite(directory)
        config = write_config(directory, url, extra=EXTRA)
        app = bootstrap(load_settings(config, {}))
        app.handle(AddStaff("kierownik", PASSWORD, Role.HEAD), now=MOMENT)
        for n in range(17):
            add_codes(app.db, app.library.platform(f"p{n}"), Month(2026, 11), None, [f"P{n}-1"])
        app.db.dispose()
        _seed(url, args.requests)
        log = directory / "web.log"
        with web_process(config, free_port(), MOMENT.strftime("%Y-%m-%dT%H:%M"), log) as web:
            client = httpx.Client(base_url=web.url, timeout=30)
            form = client.get("/logowanie").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert token is not None
            client.post(
                "/logowanie",
                data={"login": "kierownik", "password": PASSWORD, "csrf_token": token.group(1)},
            )
            for path in ("/placowki/multimedia", "/placowki/multimedia/kolejka", "/"):
                times = []
                for _ in range(args.views):
                    started = time.perf_counter()
                    answer = client.get(path)
                    times.append((time.perf_counter() - started) * 1000)
                    assert answer.status_code == 200, answer.status_code
                times.sort()
                p95 = times[int(len(times) * 0.95) - 1]
                print(
                    f"[console] GET {path:<22} {args.views} views: p50 "
                    f"{statistics.median(times):.1f} ms, p95 {p95:.1f} ms"
                )
            pools = client.get("/placowki/multimedia").text.count("data-pool=")
            print(
                f"[console] {args.requests:,} requests in the month, 20 pools in the library "
                f"({pools} on this branch's dashboard); web process peak RSS "
                f"{_peak_kib(web.pid) / 1024:.0f} MB"
            )
            client.close()


if __name__ == "__main__":
    main()
