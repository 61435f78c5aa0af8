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

PoolMarks = dict[tuple[str, str, str | None], int]


class CodeSupply:
    """The pool's oldest free codes, read ahead for the batch and handed out in order.

    `marks`: the highest code id each pool has given through this door, on PostgreSQL.
    PostgreSQL keeps the index entries of a code's earlier, free version until VACUUM,
    so a scan for "the oldest free code" walks past every code given since: a batch of
    one claim took 3 ms after 3,000 claims. Starting above the last code given skips
    them; a lower code freed again (a batch rolled back elsewhere) is found by the full
    scan once the range above is used up."""

    def __init__(
        self,
        store: Store,
        platform: Platform,
        month: Month,
        branch_id: str | None,
        *,
        ahead: int,
        marks: PoolMarks | None = None,
    ) -> None:
        self.store, self.platform, self.month = store, platform, month
        self.branch_id, self.ahead, self.marks = branch_id, ahead, marks
        self.taken: list[int] = []
        self._ready: list[tuple[int, str]] = []
        self._stage = 0  # 0: read ahead above the mark, 1: read ahead, 2: wait, 3: empty

    @property
    def _pool(self) -> tuple[str, str, str | None]:
        return self.platform.id, str(self.month), self.branch_id

    def take(self) -> tuple[int, str] | None:
        while not self._ready and self._stage < 3:
            self._refill()
        if not self._ready:
            return None
        code = self._ready.pop(0)
        self.taken.append(code[0])
        return code

    def _refill(self) -> None:
        store, platform, month, branch = self.store, self.platform, self.month, self.branch_id
        stage, self._stage = self._stage, self._stage + 1
        if stage == 0:
            mark = self.marks.get(self._pool) if self.marks is not None else None
            if mark is not None:
                self._ready = store.free_codes(platform, month, branch, self.ahead, after=mark)
        elif stage == 1:
            self._ready = store.free_codes(platform, month, branch, self.ahead, besides=self.taken)
        elif stage == 2:
            # No free code could be had without waiting: wait for codes other claims
            # hold, which may yet roll back, before calling the pool empty.
            self._ready = store.free_codes(
                platform, month, branch, 1, besides=self.taken, wait=True
            )
            if self._ready:
                self._stage = 2  # a code came free: wait again for the next one

    def saved(self) -> None:
        """The batch's codes are written: the next batch starts above them."""
        if self.taken and self.marks is not None:
            self.marks[self._pool] = max(*self.taken, self.marks.get(self._pool, 0))


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
        marks: PoolMarks | None = None,
    ) -> None:
        """`marks`: the door's own (CodeSupply), kept from batch to batch."""
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
        self.supply = CodeSupply(
            store, platform, self.month, pool, ahead=max(1, len(ids)), marks=marks
        )
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
        self.supply.saved()
        return ids
