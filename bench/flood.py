"""How soon real readers get their codes while a flood of forged requests fills a branch
mailbox (issue 29, RULES sections 8 and 9), and how many replies the flood gets.

5,000 forged requests from random addresses after midnight, 20 real readers' requests
in the middle of them (each behind thousands of forged ones in receipt order), then one
pass at the opening on real Dovecot (in memory), aiosmtpd and SQLite. Printed beside the
floor: a plain IMAP client fetching the whole mailbox once.

    .venv/bin/python -m bench.flood [--forged 5000] [--readers 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.mail_run import floor_fetch
from empikgo_mailer.bootstrap import bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.entrypoints.daemon import Daemon
from tests.support.config import MAIL_ENV, MAILBOX_PASSWORDS, write_config
from tests.support.databases import migrated_sqlite
from tests.support.dovecot import DovecotServer
from tests.support.mail_lab import deliver_flood, seed_readers
from tests.support.smtp import SmtpServer

OPENING = datetime(2026, 11, 2, 12, 0, tzinfo=ZoneInfo("Europe/Warsaw"))
AIM_SECONDS = 3.0  # issue 29: every real reader answered within 3 s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forged", type=int, default=5000)
    parser.add_argument("--readers", type=int, default=20)
    args = parser.parse_args()
    shm = Path("/dev/shm")  # noqa: S108 (a directory of its own is made inside)
    dovecot = DovecotServer(MAILBOX_PASSWORDS, parent=shm if shm.is_dir() else None).start()
    smtp = SmtpServer().start()
    try:
        with tempfile.TemporaryDirectory() as temp:
            url = migrated_sqlite(Path(temp), "bench.sqlite3")
            seed_readers(url, args.readers, args.readers)
            deliver_flood(dovecot, args.forged, args.readers)
            fetch_seconds, fetched = floor_fetch(dovecot)
            accepted: dict[int, float] = {}

            def on_accept(count: int) -> None:
                accepted[count] = time.perf_counter()

            smtp.sink.on_accept = on_accept
            config = write_config(Path(temp), url, imap_port=dovecot.port, smtp_port=smtp.port)
            app = bootstrap(load_settings(config, MAIL_ENV))
            started = time.perf_counter()
            Daemon(app, lambda: OPENING).run_once()
            total = time.perf_counter() - started
            app.db.dispose()
    finally:
        smtp.stop()
        dovecot.stop()
    replies = smtp.sink.messages()
    readers = [n for n, m in enumerate(replies, 1) if "reader" in str(m["To"])]
    strangers = sum("forged" in str(m["To"]) for m in replies)
    last = max(accepted[n] for n in readers) - started if readers else float("nan")
    print(f"{args.forged} forged requests beside {args.readers} real readers, one pass")
    print(f"  floor: a plain IMAP fetch of all {fetched} messages: {fetch_seconds:.2f} s")
    print(
        f"  last real reader's reply left {last:.2f} s after the pass started "
        f"(aim: within {AIM_SECONDS:.0f} s; {last / fetch_seconds:.1f}x the floor)"
    )
    print(f"  replies to real readers: {len(readers)}; to forged senders: {strangers}")
    print(f"  the whole pass: {total:.2f} s")


if __name__ == "__main__":
    main()
