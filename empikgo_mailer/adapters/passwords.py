"""Password hashes: Argon2id (argon2-cffi), the OWASP recommendation for new systems."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()


@cache
def _dummy() -> str:
    """A hash to verify against when the login does not exist, so that a wrong login takes
    as long as a wrong password and does not tell which logins exist. Made at the first
    login, not at import: one Argon2id hash takes 64 MiB for a moment, and the daemon and
    the commands, which import this too, never verify a password."""
    return _HASHER.hash("no such account, the same work as a real one")


class Passwords:
    def __init__(self, hasher: PasswordHasher = _HASHER) -> None:
        self.hasher = hasher

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(stored or _dummy(), password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False
