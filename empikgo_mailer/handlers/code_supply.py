"""The pool's oldest free codes, read ahead for a batch of decisions and handed out in
receipt order (handlers/codes.Facts)."""

from __future__ import annotations

from empikgo_mailer.adapters.store import Store
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform

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
