"""Finding things in the console: a reader by card, name or e-mail from any page, and a
branch's mail listed, searched, filtered by outcome and paged, with a request's
neighbours in the list it was opened from and the reader who sent it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from empikgo_mailer.adapters.reader_search import (
    FoundReader,
    ListedRequest,
    MailFilter,
    ReaderSearch,
)
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.domain.explanations import OUTCOME_LABELS
from empikgo_mailer.domain.statuses import RequestStatus
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.library import Library

PER_PAGE = 50
READERS_SHOWN = 50  # a longer list asks for a longer name, not for scrolling
MAX_SEARCH = 100  # characters of a search taken

# The lists of a branch's mail, by the name a link carries ("" = every message).
WAITING, SET_ASIDE, TODAY, DECIDED = "czeka", "odlozone", "dzis", "rozstrzygniete"
_BY_STATUS = {
    WAITING: RequestStatus.QUEUED,
    SET_ASIDE: RequestStatus.SET_ASIDE,
    TODAY: RequestStatus.DECIDED,
    DECIDED: RequestStatus.DECIDED,
}


@dataclass(frozen=True)
class FindReaders(Command["list[FoundReader]"]):
    text: str  # a card number, a name (any order, with or without diacritics) or an e-mail
    limit: int = READERS_SHOWN + 1  # one more: the page can tell there are more


@dataclass(frozen=True)
class ListMail(Command["MailPage"]):
    branch_id: str
    show: str = ""  # "" every message, WAITING, SET_ASIDE, TODAY, DECIDED or an outcome
    text: str = ""  # a reader's name, a card, (part of) an address or a subject
    page: int = 1
    per_page: int = PER_PAGE


@dataclass(frozen=True)
class MailPage:
    rows: list[ListedRequest]
    total: int
    page: int  # the one shown: a page past the end shows the last
    pages: int
    offset: int  # of its first row in the list (a waiting message's place - 1)


@dataclass(frozen=True)
class ShowNeighbours(Command["Neighbours"]):
    request_id: int
    branch_id: str  # a request of another branch is not found
    show: str = ""
    text: str = ""


@dataclass(frozen=True)
class Neighbours:
    previous: int | None  # the request above it in the list it was opened from
    next: int | None
    readers: list[FoundReader]  # who sent it: its card's reader, or the readers at its address


def mail_filter(show: str, text: str, library: Library, now: datetime) -> MailFilter:
    """The list a link names; an unknown name is every message."""
    text = text.strip()[:MAX_SEARCH]
    if show in _BY_STATUS:
        since = None
        if show == TODAY:
            calendar = library.calendar
            since = calendar.at(calendar.today(now), datetime.min.time())
        return MailFilter(status=_BY_STATUS[show], decided_since=since, text=text)
    if show in OUTCOME_LABELS:
        return MailFilter(outcome=show, text=text)
    return MailFilter(text=text)


def find_readers(query: FindReaders, *, uow: UnitOfWork) -> list[FoundReader]:
    with uow:
        return ReaderSearch(uow.session).readers(query.text[:MAX_SEARCH], query.limit)


def list_mail(query: ListMail, *, uow: UnitOfWork, library: Library, now: datetime) -> MailPage:
    chosen = mail_filter(query.show, query.text, library, now)
    with uow:
        search = ReaderSearch(uow.session)
        total = search.count_mail(query.branch_id, chosen)
        pages = max(1, -(-total // query.per_page))
        page = min(max(1, query.page), pages)
        offset = (page - 1) * query.per_page
        rows = search.mail(query.branch_id, chosen, offset, query.per_page)
        return MailPage(rows, total, page, pages, offset)


def show_neighbours(
    query: ShowNeighbours, *, uow: UnitOfWork, library: Library, now: datetime
) -> Neighbours:
    chosen = mail_filter(query.show, query.text, library, now)
    with uow:
        search = ReaderSearch(uow.session)
        request = uow.queue.request(query.request_id)
        if request is None or request.branch_id != query.branch_id:
            raise CommandRejected("Nie ma takiej wiadomości.")
        previous, following = search.neighbours(request, chosen)
        return Neighbours(previous, following, search.readers_of(request))
