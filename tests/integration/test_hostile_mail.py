"""Hostile mail on real servers: CPython's e-mail test corpus rewritten into requests,
and an attack set, delivered into Dovecot and answered through aiosmtpd by
`empikgo-mailer run --once`. No pass may fail; each message ends answered, set aside or
ignored as automatic, none unrecorded; replies go only to the sender's own address."""

from __future__ import annotations

from collections import Counter
from email import message_from_bytes
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from tests.conftest import fresh_database_url
from tests.support.data import add_codes
from tests.support.dovecot import DovecotServer
from tests.support.hostile_mail import PATRONS_CSV, attacks, corpus
from tests.support.mail_lab import FIRST_SECOND, OPENING, Lab
from tests.support.smtp import SmtpServer

ANSWERED_OR_SET_ASIDE = {"decided", "set-aside"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_hostile_mail_is_answered_set_aside_or_ignored_never_lost(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    dovecot: DovecotServer,
    smtp: SmtpServer,
) -> None:
    lab = Lab(
        tmp_path, fresh_database_url(backend, tmp_path, request), dovecot, smtp.sink, smtp.port
    )
    patrons = tmp_path / "patrons.csv"
    patrons.write_text(PATRONS_CSV, encoding="utf-8")
    imported = lab.cli("patrons", "import", str(patrons), "--now=2026-10-30T12:00")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    db = Database(lab.url)
    for branch in ("multimedia", "w63"):
        add_codes(
            db, Platform.EMPIK_GO, Month(2026, 11), branch, [f"{branch}-H{n}" for n in range(40)]
        )
    db.dispose()

    attack_set = {a.name: a for a in attacks()}
    delivered: dict[tuple[str, int], str] = {}
    for branch, messages in (
        ("multimedia", corpus()),
        ("w63", [(a.name, a.raw) for a in attack_set.values()]),
    ):
        with dovecot.client(branch) as client:
            for _name, raw in messages:
                client.append("INBOX", raw, msg_time=FIRST_SECOND)
            client.select_folder("INBOX", readonly=True)
            uids = client.search()
        assert len(uids) == len(messages)
        delivered.update(
            {(branch, uid): name for uid, (name, _) in zip(uids, messages, strict=True)}
        )

    done = lab.cli("run", "--once", f"--now={OPENING}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "część przebiegu nie powiodła się" not in done.stderr
    assert "Traceback" not in done.stderr
    again = lab.cli("run", "--once", "--now=2026-11-02T12:30")
    assert again.returncode == 0, again.stderr[-3000:]

    engine = create_engine(lab.url)
    with engine.connect() as connection:
        rows = {
            (r.branch_id, r.uid): r
            for r in connection.execute(
                text(
                    "SELECT id, branch_id, uid, status, outcome, sender, filed_at FROM mail_request"
                )
            )
        }
        outbox = {
            r.request_id: r
            for r in connection.execute(
                text("SELECT request_id, recipient, message_id, status, last_error FROM outbox")
            )
        }
    engine.dispose()

    # Every message is recorded, decided or set aside, and out of the inbox.
    assert set(rows) == set(delivered)
    assert {r.status for r in rows.values()} <= ANSWERED_OR_SET_ASIDE
    assert all(r.filed_at is not None for r in rows.values())
    assert [lab.inbox("multimedia"), lab.inbox("w63")] == [0, 0]

    # Replies: each once, only to the sender's own address, every line within RFC 5322.
    sink = [(rcpts, message_from_bytes(content)) for _, rcpts, content in smtp.sink.accepted]
    per_id = Counter(str(m["Message-ID"]) for _, m in sink)
    assert max(per_id.values()) == 1
    by_id = {r.message_id: r for r in outbox.values()}
    for rcpts, message in sink:
        reply = by_id[str(message["Message-ID"])]
        row = next(r for r in rows.values() if r.id == reply.request_id)
        assert rcpts == [row.sender] == [reply.recipient]
        assert message["Bcc"] is None and message["Cc"] is None
        assert all(len(line) <= 998 for line in message.as_bytes().split(b"\n"))
    assert {r.status for r in outbox.values()} <= {"sent"}, [
        r.last_error for r in outbox.values() if r.status != "sent"
    ]

    # Each attack ends as it must.
    replies_to = Counter(r.request_id for r in outbox.values() if r.status == "sent")
    ended = {
        name: (rows[key].outcome, replies_to[rows[key].id])
        for key, name in delivered.items()
        if key[0] == "w63"
    }
    assert ended == {name: (a.outcome, a.replies) for name, a in attack_set.items()}
