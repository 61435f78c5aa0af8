"""The hostile-mail table: CPython's e-mail test corpus rewritten into requests, and the
attack set of tests/support/hostile_mail.py, through Dovecot, `empikgo-mailer run --once`
(twice) and an aiosmtpd sink. Counts what became of every message.

    python -m bench.hostile_mail [--backend sqlite|postgresql]

Like bench.mail_faults it needs only the command line and SQL every schema version has.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from email import message_from_bytes
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.servers import database
from empikgo_mailer.adapters.database import Database
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from tests.support.config import MAILBOX_PASSWORDS
from tests.support.data import add_codes
from tests.support.dovecot import DovecotServer
from tests.support.hostile_mail import PATRONS_CSV, attacks, corpus
from tests.support.mail_lab import FIRST_SECOND, OPENING, Lab
from tests.support.smtp import SmtpServer

SETS = {"multimedia": "CPython corpus", "w63": "attack set"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    dovecot = DovecotServer(MAILBOX_PASSWORDS).start()
    smtp = SmtpServer().start()
    try:
        with tempfile.TemporaryDirectory() as temp, database(args.backend, Path(temp)) as url:
            lab = Lab(Path(temp), url, dovecot, smtp.sink, smtp.port)
            patrons = Path(temp) / "patrons.csv"
            patrons.write_text(PATRONS_CSV, encoding="utf-8")
            lab.cli("patrons", "import", str(patrons), "--now=2026-10-30T12:00")
            db = Database(url)
            for branch in SETS:
                values = [f"{branch}-H{n}" for n in range(40)]
                add_codes(db, Platform.EMPIK_GO, Month(2026, 11), branch, values)
            db.dispose()
            sent: dict[str, int] = {}
            for branch, messages in (
                ("multimedia", [raw for _, raw in corpus()]),
                ("w63", [a.raw for a in attacks()]),
            ):
                with dovecot.client(branch) as client:
                    for raw in messages:
                        client.append("INBOX", raw, msg_time=FIRST_SECOND)
                sent[branch] = len(messages)
            failed_passes = 0
            for now in (OPENING, "2026-11-02T12:30"):
                done = lab.cli("run", "--once", f"--now={now}", timeout=900)
                broken = "część przebiegu nie powiodła się" in done.stderr
                failed_passes += done.returncode != 0 or broken or "Traceback" in done.stderr
            print_table(lab, url, sent, failed_passes, smtp)
    finally:
        smtp.stop()
        dovecot.stop()


def print_table(
    lab: Lab, url: str, sent: dict[str, int], failed_passes: int, smtp: SmtpServer
) -> None:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, branch_id, status, outcome, sender FROM mail_request")
        ).all()
        outbox = connection.execute(
            text("SELECT request_id, recipient, message_id, status FROM outbox")
        ).all()
    engine.dispose()
    delivered = Counter(
        str(message_from_bytes(content)["Message-ID"]) for _, _, content in smtp.sink.accepted
    )
    senders = {row.id: row.sender for row in rows}
    print(f"passes that failed: {failed_passes} of 2")
    print(
        "| set | messages | recorded | answered | set aside (automatic) | not recorded "
        "| left in inbox | replies not to the sender | delivered twice | replies unsent |"
    )
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for branch, label in SETS.items():
        mine = [row for row in rows if row.branch_id == branch]
        ids = {row.id for row in mine}
        replies = [o for o in outbox if o.request_id in ids]
        answered = {o.request_id for o in replies if delivered[o.message_id]}
        automatic = sum(row.outcome == "automatic" for row in mine)
        set_aside = sum(row.status == "set-aside" for row in mine)
        foreign = sum(o.recipient != senders.get(o.request_id) for o in replies)
        twice = sum(delivered[o.message_id] > 1 for o in replies)
        unsent = sum(o.status != "sent" for o in replies)
        print(
            f"| {label} | {sent[branch]} | {len(mine)} | {len(answered)} | {set_aside} "
            f"({automatic}) | {max(0, sent[branch] - len(mine))} | {lab.inbox(branch)} "
            f"| {foreign} | {twice} | {unsent} |"
        )
    outcomes = Counter(str(row.outcome) for row in rows)
    print("outcomes:", dict(sorted(outcomes.items())))


if __name__ == "__main__":
    main()
