"""What every command shares: it is a frozen dataclass of plain values, named in the
imperative, and `R_co` is what its handler answers (so `app.handle` is typed per command)."""

from __future__ import annotations

from typing import Generic, TypeVar

R_co = TypeVar("R_co", covariant=True)


class Command(Generic[R_co]):
    """Base of every command and query the doors send to `App.handle`."""

    __slots__ = ()
