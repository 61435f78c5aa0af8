"""Finding a reader and a branch's mail, through the dispatcher on a real database (SQLite
and PostgreSQL): a name in any order, with or without diacritics, by the beginnings of
its words; an e-mail in any case; a card as written; the queue searched by reader, card,
sender and subject, filtered by outcome, paged, and a request's neighbours in its list."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from empikgo_mailer.adapters.store import Store
from empikgo_mailer.adapters.tables import MailRequest
from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.statuses import RequestKind, RequestStatus
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.mail_search import FindReaders, ListMail, ShowNeighbours
from tests.support.data import add_patron

NOW = datetime(2026, 11, 2, 12, 30, tzinfo=ZoneInfo("Europe/Warsaw"))


@pytest.fixture
def readers(app: App) -> App:
    add_patron(app.db, "1000001", "Łukasz", "Żak", email="Lukasz.Zak@Example.com")
    add_patron(app.db, "1000002", "Anna", "Kowalska-Wiśniewska", email="anna.k@example.com")
    add_patron(app.db, "1000003", "Anna", "Nowak", email="rodzina@example.com")
    add_patron(app.db, "1000004", "Jan", "Nowak", email="rodzina@example.com")
    add_patron(app.db, "2000010", "Joanna", "Kowal", email=None)
    return app


def cards(app: App, text: str) -> list[str]:
    return [r.card_number for r in app.handle(FindReaders(text))]


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("Łukasz Żak", ["1000001"]),
        ("zak lukasz", ["1000001"]),  # any order, no diacritics, any case
        ("ŻAK", ["1000001"]),
        ("luk", ["1000001"]),  # the beginning of a word
        ("kow an", ["1000002"]),
        ("wisniewska", ["1000002"]),  # one part of a double surname
        ("anna", ["1000002", "1000003"]),  # not "Joanna": words are matched from their start
        ("kowal", ["1000002", "2000010"]),
        ("nowak", ["1000004", "1000003"]),  # by surname, then first name: Anna, Jan
        ("lukasz.zak@EXAMPLE.com", ["1000001"]),
        ("RODZINA@example.com", ["1000003", "1000004"]),
        ("anna.k@", ["1000002"]),
        ("1000 001", ["1000001"]),
        ("200001", ["2000010"]),  # the beginning of a card number
        ("Krzysztof", []),
        ("%", []),  # LIKE's own characters are only characters
        ("_", []),
        ("", []),
    ],
)
def test_a_reader_is_found_by_name_email_or_card(
    readers: App, typed: str, found: list[str]
) -> None:
    assert sorted(cards(readers, typed)) == sorted(found)


def test_readers_are_listed_by_surname_then_first_name(readers: App) -> None:
    assert cards(readers, "nowak") == ["1000003", "1000004"]


def test_a_reader_renamed_by_an_import_is_found_by_the_new_name(readers: App) -> None:
    with readers.db.transaction() as session:
        store = Store(session)
        ids = store.patron_ids_by_card()
        store.update_patrons(
            [{"id": ids["1000003"], "first_name": "Anna", "last_name": "Śliwińska"}]
        )
        store.insert_patrons(
            [
                {
                    "card_number": "3000001", "first_name": "Zofia", "last_name": "Ćwik",
                    "email": "Z@Example.com", "active": True, "updated_at": NOW,
                }
            ]
        )  # fmt: skip
    assert cards(readers, "sliwinska") == ["1000003"]
    assert cards(readers, "cwik zofia") == ["3000001"]
    assert cards(readers, "z@example.com") == ["3000001"]


def mail(
    app: App, n: int, *, sender: str | None, subject: str = "EMPIK GO", card: str | None = None,
    status: RequestStatus = RequestStatus.DECIDED, outcome: str | None = "issued",
    branch: str = "w63",
) -> int:  # fmt: skip
    received = NOW - timedelta(hours=3) + timedelta(minutes=n)
    with app.db.transaction() as session:
        row = MailRequest(
            branch_id=branch, uidvalidity=1, uid=n, fingerprint=f"sid:{n}",
            message_id=f"<m{n}@x>", received_at=received, sender=sender, subject=subject,
            kind=RequestKind.REQUEST, card_number=card, status=status,
            outcome=None if status is RequestStatus.QUEUED else outcome,
            decided_at=None if status is RequestStatus.QUEUED else received,
            created_at=received,
        )  # fmt: skip
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


@pytest.fixture
def branch_mail(readers: App) -> dict[str, int]:
    app = readers
    return {
        "zak": mail(app, 1, sender="lukasz.zak@example.com", card="1000001"),
        "rodzina": mail(
            app,
            2,
            sender="Rodzina@Example.com",
            outcome="card-missing",
            status=RequestStatus.SET_ASIDE,
        ),
        "nieznany": mail(
            app,
            3,
            sender="obcy@example.net",
            subject="Prośba o kod na grudzień",
            outcome="stranger",
        ),
        "anna": mail(app, 4, sender="anna.k@example.com", status=RequestStatus.QUEUED),
        "kowal": mail(app, 5, sender="jk@example.org", card="2000010", outcome="debt"),
        "inna": mail(app, 6, sender="lukasz.zak@example.com", card="1000001", branch="multimedia"),
    }


def listed(
    app: App, show: str = "", text: str = "", page: int = 1, per_page: int = 50
) -> list[int]:
    found = app.handle(ListMail("w63", show, text, page, per_page), now=NOW)
    return [item.request.id or 0 for item in found.rows]


def test_the_queue_is_searched_by_reader_card_sender_and_subject(
    readers: App, branch_mail: dict[str, int]
) -> None:
    ids = branch_mail
    assert listed(readers, text="zak") == [ids["zak"]]  # another branch's message is not listed
    assert listed(readers, text="kowalska") == [ids["anna"]]  # by the reader at the address
    assert listed(readers, text="joanna") == [ids["kowal"]]  # by the reader of the card
    assert listed(readers, text="2000 010") == [ids["kowal"]]
    assert listed(readers, text="example.net") == [ids["nieznany"]]
    assert listed(readers, text="grudzień") == [ids["nieznany"]]
    # An address two readers share names either of them: both messages' sender.
    assert listed(readers, text="jan nowak") == [ids["rodzina"]]


def test_the_queue_is_filtered_by_outcome_and_state(
    readers: App, branch_mail: dict[str, int]
) -> None:
    ids = branch_mail
    assert listed(readers) == [ids["kowal"], ids["anna"], ids["nieznany"], ids["rodzina"],
                               ids["zak"]]  # fmt: skip
    assert listed(readers, "czeka") == [ids["anna"]]
    assert listed(readers, "odlozone") == [ids["rodzina"]]
    assert listed(readers, "rozstrzygniete") == [ids["kowal"], ids["nieznany"], ids["zak"]]
    assert listed(readers, "dzis") == [ids["kowal"], ids["nieznany"], ids["zak"]]
    assert listed(readers, "debt") == [ids["kowal"]]
    assert listed(readers, "issued", "zak") == [ids["zak"]]
    assert listed(readers, "issued", "kowal") == []


def test_the_queue_is_paged_and_a_page_past_the_end_shows_the_last(
    readers: App, branch_mail: dict[str, int]
) -> None:
    ids = branch_mail
    first = readers.handle(ListMail("w63", "", "", 1, 2), now=NOW)
    assert (first.total, first.pages, first.page, first.offset) == (5, 3, 1, 0)
    assert listed(readers, page=2, per_page=2) == [ids["nieznany"], ids["rodzina"]]
    last = readers.handle(ListMail("w63", "", "", 9, 2), now=NOW)
    assert (last.page, last.offset, [r.request.id for r in last.rows]) == (3, 4, [ids["zak"]])


def test_each_listed_message_names_its_reader(readers: App, branch_mail: dict[str, int]) -> None:
    found = readers.handle(ListMail("w63"), now=NOW)
    names = {item.request.id: item.reader for item in found.rows}
    ids = branch_mail
    assert names[ids["zak"]] == "Łukasz Żak"
    assert names[ids["anna"]] == "Anna Kowalska-Wiśniewska"  # no card: by its sender
    assert names[ids["rodzina"]] == ""  # two readers at one address: it cannot say which
    assert names[ids["nieznany"]] == ""


def test_next_and_previous_stay_in_the_list_the_request_was_opened_from(
    readers: App, branch_mail: dict[str, int]
) -> None:
    ids = branch_mail

    def around(name: str, show: str = "", text: str = "") -> tuple[int | None, int | None]:
        found = readers.handle(ShowNeighbours(ids[name], "w63", show, text), now=NOW)
        return found.previous, found.next

    # Every message, the newest first: above "nieznany" is the newer one.
    assert around("nieznany") == (ids["anna"], ids["rodzina"])
    assert around("kowal") == (None, ids["anna"])
    assert around("zak") == (ids["rodzina"], None)
    assert around("nieznany", "rozstrzygniete") == (ids["kowal"], ids["zak"])
    assert around("zak", "", "zak") == (None, None)
    with pytest.raises(CommandRejected):
        readers.handle(ShowNeighbours(ids["inna"], "w63"), now=NOW)  # another branch's


def test_the_request_names_the_readers_who_may_have_sent_it(
    readers: App, branch_mail: dict[str, int]
) -> None:
    def names(name: str) -> list[str]:
        found = readers.handle(ShowNeighbours(branch_mail[name], "w63"), now=NOW)
        return [r.card_number for r in found.readers]

    assert names("zak") == ["1000001"]
    assert names("rodzina") == ["1000003", "1000004"]
    assert names("nieznany") == []
