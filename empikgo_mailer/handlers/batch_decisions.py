"""Deciding many code requests of one door at once: the facts of the whole batch read in a
handful of queries (the patrons, locked in id order; their codes this month, bans, loans
and payments; the service switch; the pool's oldest free codes), the pure rules run in
memory request by request in the order given, and the codes and issuances written in
bulk. It is the decision `decide` makes one request at a time (handlers/codes.py), for
the mail queue (mail_batch) and the Legimi claims (claim_desk)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from empikgo_mailer.adapters.store import Store
from empikgo_mailer.domain.eligibility import Claimant, EarlierCode, assess
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.handlers.codes import (
    Decision,
    GiveCode,
    base_situation,
    decision_audit,
    patron_situation,
    pool_exhausted,
    pool_gave,
)
from empikgo_mailer.handlers.debt import DebtSource, debts_of
from empikgo_mailer.handlers.library import Library


class CodeSupply:
    """The pool's oldest free codes, read ahead for the batch and handed out in order."""

    def __init__(
        self, store: Store, platform: Platform, month: Month, branch_id: str | None, ahead: int
    ) -> None:
        self.store, self.platform, self.month = store, platform, month
        self.branch_id, self.ahead = branch_id, ahead
        self.taken: list[int] = []
        self._ready: list[tuple[int, str]] = []
        self._read = False
        self._empty = False

    def take(self) -> tuple[int, str] | None:
        if not self._ready and not self._empty:
            self._refill()
        if not self._ready:
            return None
        code = self._ready.pop(0)
        self.taken.append(code[0])
        return code

    def _refill(self) -> None:
        store, platform, month, branch = self.store, self.platform, self.month, self.branch_id
        if not self._read:
            self._read = True
            self._ready = store.free_codes(platform, month, branch, self.ahead)
            if self._ready:
                return
        # Every code read ahead is given (or none could be had without waiting): wait for
        # codes other claims hold, which may yet roll back, before calling the pool empty.
        self._ready = store.free_codes(platform, month, branch, 1, besides=self.taken, wait=True)
        self._empty = not self._ready


class BatchFacts:
    """Everything the rules need about a batch's patrons, and what the batch gave."""

    def __init__(
        self,
        store: Store,
        cards: Iterable[str],
        *,
        library: Library,
        debt_source: DebtSource,
        platform: Platform,
        channel: Channel,
        branch_id: str | None,
        first: datetime,
    ) -> None:
        self.store, self.library = store, library
        self.platform, self.channel, self.branch_id = platform, channel, branch_id
        self.day, self.month = library.calendar.today(first), library.calendar.month_of(first)
        self.patrons = store.patrons_by_cards(cards, lock=True)
        ids = [p.id for p in self.patrons.values() if p.id is not None]
        # This month's code of each patron and its value (a repeated Legimi claim shows it).
        self.this_month = store.codes_this_month(ids, self.month)
        self.bans = store.bans_of(ids)
        self.debts = debts_of(debt_source, store, list(self.patrons.values()), self.day)
        self.service_on = store.service_switched_on(platform)
        pool = library.pool_branch(platform, branch_id)
        self.supply = CodeSupply(store, platform, self.month, pool, ahead=max(1, len(ids)))
        self.issuances: list[dict[str, Any]] = []
        self.audit: list[dict[str, Any]] = []

    def same_day(self, now: datetime) -> bool:
        """A batch is decided within one day (the daily limits and the month are its)."""
        return self.library.calendar.today(now) == self.day

    def decide(self, command: GiveCode, now: datetime) -> tuple[Decision, int | None]:
        """`decide` in memory, audited; with the index of the issuance it adds (to be
        inserted by `save`) when a code was given. A later request of the same patron in
        this batch sees that code as this month's."""
        library = self.library
        patron = self.patrons.get(command.card_number)
        situation = base_situation(
            library, platform=self.platform, now=now, service_on=self.service_on, free_codes=None
        )
        if patron is not None and patron.id is not None:
            known = self.this_month.get(patron.id)
            situation = patron_situation(
                situation,
                library,
                patron=patron,
                earlier=None if known is None else known[0],
                debt=self.debts[patron.id],
                bans=self.bans.get(patron.id, ()),
            )
        claimant = Claimant(written_name=command.written_name, sender=command.sender)
        assessment = assess(situation, claimant, library.policy)
        given: int | None = None
        if not assessment.eligible or patron is None or patron.id is None:
            decision = Decision(assessment)
        elif (code := self.supply.take()) is None:
            decision = Decision(pool_exhausted(assessment, situation))
        else:
            decision = Decision(pool_gave(assessment), code=code[1], code_id=code[0])
            earlier = EarlierCode(self.platform, self.channel, now, self.branch_id)
            self.this_month[patron.id] = (earlier, code[1])
            given = len(self.issuances)
            self.issuances.append(
                {
                    "code_id": code[0],
                    "patron_id": patron.id,
                    "platform": self.platform.value,
                    "month": str(self.month),
                    "channel": self.channel.value,
                    "branch_id": self.branch_id,
                    "issued_at": now,
                }
            )
        self.audit.append(decision_audit(command, decision, now))
        return decision, given

    def save(self) -> list[int]:
        """Write the batch's codes, issuances and audit entries; the issuances' ids."""
        self.store.mark_issued(self.supply.taken)
        ids = self.store.add_issuances(self.issuances)
        self.store.audit_many(self.audit)
        return ids
