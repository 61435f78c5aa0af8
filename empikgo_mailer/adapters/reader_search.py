"""What the console searches: readers by card, name or e-mail, and a branch's mail by its
reader, sender, card or subject and by outcome, a page at a time, with a request's
neighbours in the same list. SQLite and PostgreSQL alike; a name is matched on
`patron.name_key` (domain/names.name_key), so diacritics and word order do not matter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, literal, or_
from sqlalchemy import select as sql_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from empikgo_mailer.adapters.tables import MailRequest, Patron
from empikgo_mailer.domain.addresses import address_key
from empikgo_mailer.domain.card_number import MAX_LENGTH, CardNumber
from empikgo_mailer.domain.names import name_tokens
from empikgo_mailer.domain.statuses import RequestStatus

_ESCAPE = "\\"
MAX_NAMED = 1_000  # readers of one name a mail search looks for ("anna" finds this many)


def _like_text(text: str) -> str:
    """`text` as a literal part of a LIKE pattern."""
    for special in (_ESCAPE, "%", "_"):
        text = text.replace(special, _ESCAPE + special)
    return text


def _typed_card(text: str) -> str | None:
    """A card number, when what was typed can only be one: a digit in it (a name has none)."""
    if not any(ch.isdigit() for ch in text):
        return None
    card = CardNumber.find(text)
    return None if card is None else card.value


def _name_matches(name_key: Any, words: tuple[str, ...]) -> ColumnElement[bool]:
    """Every typed word begins some word of the name: "kow an" finds Anna Kowalska."""
    spaced = literal(" ") + func.coalesce(name_key, "")
    return and_(*(spaced.like(f"% {_like_text(word)}%", escape=_ESCAPE) for word in words))


@dataclass(frozen=True)
class FoundReader:
    card_number: str
    first_name: str
    last_name: str
    email: str | None
    active: bool


@dataclass(frozen=True)
class MailFilter:
    """Which of a branch's messages a list shows: `status` or `outcome` (or neither), and
    what was typed in its search field. Waiting mail is listed in receipt order, the rest
    newest first."""

    status: RequestStatus | None = None
    outcome: str | None = None
    decided_since: datetime | None = None
    text: str = ""

    @property
    def oldest_first(self) -> bool:
        return self.status is RequestStatus.QUEUED


@dataclass(frozen=True)
class ListedRequest:
    request: MailRequest
    reader: str  # the reader's name: by the card in the message, else by its sender; or ""


class ReaderSearch:
    def __init__(self, session: Session) -> None:
        self.session = session

    # readers -------------------------------------------------------------------------
    def readers(self, text: str, limit: int) -> list[FoundReader]:
        """Readers whose card, e-mail (case-insensitive) or name matches `text`: a card or
        an address exactly, else by its beginning; a name word by word."""
        text = text.strip()
        if "@" in text:
            key = address_key(text)
            return self._readers(col(Patron.email_key) == key, limit) or self._readers(
                col(Patron.email_key).like(_like_text(key) + "%", escape=_ESCAPE), limit
            )
        if (card := _typed_card(text)) is not None:
            # A stored card is capital letters and digits: every card beginning with
            # `card` sorts between it and it padded with Z, so the unique index finds them.
            highest = card + "Z" * (MAX_LENGTH - len(card))
            return self._readers(col(Patron.card_number) == card, limit) or self._readers(
                col(Patron.card_number).between(card, highest), limit
            )
        if words := name_tokens(text):
            return self._readers(_name_matches(col(Patron.name_key), words), limit)
        return []

    def _readers(self, condition: ColumnElement[bool], limit: int) -> list[FoundReader]:
        rows = self.session.execute(
            sql_select(
                col(Patron.card_number), col(Patron.first_name), col(Patron.last_name),
                col(Patron.email), col(Patron.active),
            )
            .where(condition)
            .order_by(col(Patron.last_name), col(Patron.first_name), col(Patron.card_number))
            .limit(limit)
        )  # fmt: skip
        return [FoundReader(*row) for row in rows]

    # a branch's mail -----------------------------------------------------------------
    def _where(self, branch_id: str, chosen: MailFilter) -> list[ColumnElement[bool]]:
        m = MailRequest
        where: list[ColumnElement[bool]] = [col(m.branch_id) == branch_id]
        if chosen.status is not None:
            where.append(col(m.status) == chosen.status)
        if chosen.outcome is not None:
            where.append(col(m.outcome) == chosen.outcome)
        if chosen.decided_since is not None:
            where.append(col(m.decided_at) >= chosen.decided_since)
        text = chosen.text.strip()
        if not text:
            return where
        lowered = f"%{_like_text(text.lower())}%"
        found: list[ColumnElement[bool]] = [
            func.lower(col(m.sender)).like(lowered, escape=_ESCAPE),
            func.lower(col(m.subject)).like(lowered, escape=_ESCAPE),
        ]
        if (card := _typed_card(text)) is not None:
            found.append(col(m.card_number) == card)
        if words := name_tokens(text):
            # The reader behind the message, by its card or its sender's address: the
            # readers of that name first (one scan of patron), then two index look-ups.
            named = self.session.execute(
                sql_select(col(Patron.card_number), col(Patron.email_key))
                .where(_name_matches(col(Patron.name_key), words))
                .limit(MAX_NAMED)
            ).all()
            if named:
                found.append(col(m.card_number).in_({card for card, _ in named}))
                keys = {key for _, key in named if key}
                if keys:
                    found.append(func.lower(col(m.sender)).in_(keys))
        where.append(or_(false(), *found))
        return where

    def _order(self, chosen: MailFilter) -> tuple[Any, ...]:
        m = MailRequest
        if chosen.oldest_first:
            return (col(m.received_at), col(m.id))
        return (col(m.received_at).desc(), col(m.id).desc())

    def count_mail(self, branch_id: str, chosen: MailFilter) -> int:
        query = select(func.count()).select_from(MailRequest).where(*self._where(branch_id, chosen))
        return int(self.session.exec(query).one())

    def mail(
        self, branch_id: str, chosen: MailFilter, offset: int, limit: int
    ) -> list[ListedRequest]:
        """One page of the list, each message with its reader's name."""
        query = (
            select(MailRequest)
            .where(*self._where(branch_id, chosen))
            .order_by(*self._order(chosen))
            .offset(offset)
            .limit(limit)
        )
        return self.with_readers(list(self.session.exec(query)))

    def with_readers(self, requests: list[MailRequest]) -> list[ListedRequest]:
        """The reader of each message: by its card, else the one reader at its sender's
        address (two readers sharing one address name nobody: it cannot say which)."""
        cards = {r.card_number for r in requests if r.card_number}
        keys = {address_key(r.sender) for r in requests if r.sender and not r.card_number}
        by_card: dict[str, str] = {}
        by_address: dict[str, list[str]] = {}
        if cards:
            for card, first, last in self.session.exec(
                select(Patron.card_number, Patron.first_name, Patron.last_name).where(
                    col(Patron.card_number).in_(cards)
                )
            ):
                by_card[card] = f"{first} {last}"
        if keys:
            for key, first, last in self.session.exec(
                select(Patron.email_key, Patron.first_name, Patron.last_name).where(
                    col(Patron.email_key).in_(keys)
                )
            ):
                by_address.setdefault(key or "", []).append(f"{first} {last}")
        listed = []
        for r in requests:
            if r.card_number:
                name = by_card.get(r.card_number, "")
            else:
                names = by_address.get(address_key(r.sender), []) if r.sender else []
                name = names[0] if len(names) == 1 else ""
            listed.append(ListedRequest(r, name))
        return listed

    def neighbours(self, request: MailRequest, chosen: MailFilter) -> tuple[int | None, int | None]:
        """The requests just above and just below `request` in the list `chosen` makes."""
        m = MailRequest
        at, ident = request.received_at, request.id
        earlier = or_(col(m.received_at) < at, and_(col(m.received_at) == at, col(m.id) < ident))
        later = or_(col(m.received_at) > at, and_(col(m.received_at) == at, col(m.id) > ident))
        where = self._where(request.branch_id, chosen)

        def first(condition: ColumnElement[bool], newest: bool) -> int | None:
            order = (
                (col(m.received_at).desc(), col(m.id).desc())
                if newest
                else (col(m.received_at), col(m.id))
            )
            query = select(m.id).where(*where, condition).order_by(*order).limit(1)
            return self.session.exec(query).first()

        before, after = first(earlier, newest=True), first(later, newest=False)
        return (before, after) if chosen.oldest_first else (after, before)

    def readers_of(self, request: MailRequest) -> list[FoundReader]:
        """Who sent `request`: the reader of its card, else the readers at its address."""
        p = aliased(Patron)
        if request.card_number:
            condition = col(p.card_number) == request.card_number
        elif request.sender:
            condition = col(p.email_key) == address_key(request.sender)
        else:
            return []
        rows = self.session.execute(
            sql_select(
                col(p.card_number),
                col(p.first_name),
                col(p.last_name),
                col(p.email),
                col(p.active),
            )
            .where(condition)
            .order_by(col(p.last_name), col(p.first_name))
            .limit(10)
        )
        return [FoundReader(*row) for row in rows]
