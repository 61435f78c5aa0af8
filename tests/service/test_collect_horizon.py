"""Deciding between fetch batches (`collect(decide_up_to=...)`): after each batch the
collector says how far the queue may already be decided, and that is never past a
message still to be read, in receipt order (time, then UID)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from imapclient.exceptions import IMAPClientError

from empikgo_mailer.bootstrap import App
from empikgo_mailer.handlers.mailbox import Horizon, collect
from tests.support.mail import FakeMailbox, fixture

WARSAW = ZoneInfo("Europe/Warsaw")
MIDNIGHT = datetime(2026, 11, 1, 0, 0, tzinfo=WARSAW)
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=WARSAW)


def horizons(app: App, box: FakeMailbox) -> list[Horizon]:
    seen: list[Horizon] = []
    mail = replace(app.settings.mail, fetch_batch=2)
    report = collect(
        "multimedia", box, uow=app.uow(), mail=mail, clock=lambda: NOW, decide_up_to=seen.append
    )
    assert report.fetched == len(box.inbox)  # every message is read, whatever was decided
    return seen


def test_each_batch_may_be_decided_up_to_the_first_message_left(app: App) -> None:
    box = FakeMailbox()
    minutes = [5, 6, 7, 1, 8]  # UID 4 came first: moved back into the inbox, say
    for minute in minutes:
        box.deliver(fixture("gmail.eml"), MIDNIGHT + timedelta(minutes=minute))
    assert horizons(app, box) == [
        Horizon((MIDNIGHT + timedelta(minutes=1), 4), uncollected=3),  # not even UID 1
        Horizon((MIDNIGHT + timedelta(minutes=8), 5), uncollected=1),
    ]


def test_a_message_without_a_receipt_time_counts_as_received_now(app: App) -> None:
    class NoTimeForTheLast(FakeMailbox):
        def received_times(self, uids: Sequence[int]) -> dict[int, datetime]:
            return {uid: at for uid, at in super().received_times(uids).items() if uid != 3}

    box = NoTimeForTheLast()
    for minute in (1, 2, 3):
        box.deliver(fixture("gmail.eml"), MIDNIGHT + timedelta(minutes=minute))
    assert horizons(app, box) == [Horizon((NOW, 3), uncollected=1)]


def test_when_the_server_gives_no_times_the_queue_waits_for_the_whole_collect(app: App) -> None:
    class Refusing(FakeMailbox):
        def received_times(self, uids: Sequence[int]) -> dict[int, datetime]:
            raise IMAPClientError("FETCH INTERNALDATE refused")

    box = Refusing()
    for minute in (1, 2, 3):
        box.deliver(fixture("gmail.eml"), MIDNIGHT + timedelta(minutes=minute))
    assert horizons(app, box) == []
