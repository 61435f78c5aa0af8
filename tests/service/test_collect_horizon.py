"""Deciding while the mailbox is read: after each fetch batch the collector marks the
mailbox's row with how far the queue may already be decided (`MailQueue.uncollected`),
and that is never past a message still to be read, in receipt order (time, then UID).
The mark is gone once the collect has read everything."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from imapclient.exceptions import IMAPClientError

from empikgo_mailer.adapters.imap_mailbox import FetchedMessage
from empikgo_mailer.bootstrap import App
from empikgo_mailer.handlers.mailbox import WAIT_FOR_ALL
from tests.support.mail import FakeMailbox, collect, fixture

WARSAW = ZoneInfo("Europe/Warsaw")
MIDNIGHT = datetime(2026, 11, 1, 0, 0, tzinfo=WARSAW)
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=WARSAW)


Mark = tuple[datetime, int] | None


def marks(app: App, box: FakeMailbox) -> list[Mark]:
    """The mark a decider would read before each fetch batch but the first."""
    seen: list[Mark] = []
    fetch = box.fetch

    def look_then_fetch(uids: Sequence[int], max_bytes: int) -> list[FetchedMessage]:
        if min(uids) > 1:
            with app.uow() as uow:
                seen.append(uow.queue.uncollected("multimedia"))
        return fetch(uids, max_bytes)

    box.fetch = look_then_fetch  # type: ignore[method-assign]
    mail = replace(app.settings.mail, fetch_batch=2)
    report = collect("multimedia", box, uow=app.uow(), mail=mail, clock=lambda: NOW)
    assert report.fetched == len(box.inbox)  # every message is read, whatever was decided
    with app.uow() as uow:
        assert uow.queue.uncollected("multimedia") is None  # all read: nothing holds back
    return seen


def test_each_batch_may_be_decided_up_to_the_first_message_left(app: App) -> None:
    box = FakeMailbox()
    minutes = [5, 6, 7, 1, 8]  # UID 4 came first: moved back into the inbox, say
    for minute in minutes:
        box.deliver(fixture("gmail.eml"), MIDNIGHT + timedelta(minutes=minute))
    assert marks(app, box) == [
        (MIDNIGHT + timedelta(minutes=1), 4),  # not even UID 1
        (MIDNIGHT + timedelta(minutes=8), 5),
    ]


def test_a_message_without_a_receipt_time_counts_as_received_now(app: App) -> None:
    class NoTimeForTheLast(FakeMailbox):
        def received_times(self, uids: Sequence[int]) -> dict[int, datetime]:
            return {uid: at for uid, at in super().received_times(uids).items() if uid != 3}

    box = NoTimeForTheLast()
    for minute in (1, 2, 3):
        box.deliver(fixture("gmail.eml"), MIDNIGHT + timedelta(minutes=minute))
    assert marks(app, box) == [(NOW, 3)]


def test_when_the_server_gives_no_times_the_queue_waits_for_the_whole_collect(app: App) -> None:
    class Refusing(FakeMailbox):
        def received_times(self, uids: Sequence[int]) -> dict[int, datetime]:
            raise IMAPClientError("FETCH INTERNALDATE refused")

    box = Refusing()
    for minute in (1, 2, 3):
        box.deliver(fixture("gmail.eml"), MIDNIGHT + timedelta(minutes=minute))
    assert marks(app, box) == [WAIT_FOR_ALL]
