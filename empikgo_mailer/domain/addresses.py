"""Who sent a message: one addr-spec parsed from the raw From header, or why not.

The address is parsed from the header as it travelled (the standard library's header
registry), never from decoded text: an encoded word may hide an "@", a display name
may look like an address ("reader@example.com <evil@x.test>"), and neither identifies
anybody. Anything the parser had to guess at makes the sender unknown, so such a
message is set aside for staff instead of being answered to a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import errors
from email.headerregistry import AddressHeader, HeaderRegistry

MAX_ADDRESS = 254  # RFC 5321: the longest path a server must accept
MAX_LOCAL_PART = 64
# dot-atom local parts (RFC 5322) with the UTF-8 of RFC 6532; no quoted local parts:
# no library system stores them and they are a favourite of header tricks.
_UTF8 = "\u00a1-\ud7ff\ue000-\ufffc\U00010000-\U0010ffff"  # no controls, surrogates or U+FFFD
_ATEXT = rf"[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~\-{_UTF8}]"
_LOCAL = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_LABEL = rf"[A-Za-z0-9{_UTF8}](?:[A-Za-z0-9\-{_UTF8}]{{0,61}}[A-Za-z0-9{_UTF8}])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
_REGISTRY = HeaderRegistry()
# RFC 2047 words may stand only in display names and comments, and they are never part
# of an address: each is replaced by a plain atom before parsing, so whatever it
# decodes to (an "@", CR LF) cannot shape the address.
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
# EAI addresses are fine, and so is obsolete syntax alone ("J. Kowalski <jan@...>": a
# period in an unquoted name, as some clients write it). An invalid part is not.
_TOLERATED_DEFECTS = (errors.NonASCIILocalPartDefect, errors.ObsoleteHeaderDefect)
# The two shapes nearly every client writes, read without the (slow) registry: a bare
# address, or a plain name (no specials, no quotes, no comments) and <address>. The
# registry gives the same answer for them (tests/unit/test_addresses.py checks it).
_PLAIN_NAME = rf"[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~\- {_UTF8}]*"
_FAST = re.compile(rf"\s*(?:{_PLAIN_NAME}<([^<>\s]+)>|([^<>\s]+))\s*")


@dataclass(frozen=True)
class SenderReading:
    """The sender's address, or the reason (for staff) why there is none we can trust."""

    address: str | None
    problem: str | None = None


def _refused(problem: str) -> SenderReading:
    return SenderReading(None, problem)


def valid_address(address: str) -> bool:
    """A plain addr-spec we may send to: bounded, no whitespace or control characters,
    a dot-atom local part and a domain name with at least one dot."""
    if len(address) > MAX_ADDRESS or not address.isprintable() or " " in address:
        return False
    local, at, domain = address.rpartition("@")
    return bool(
        at
        and len(local) <= MAX_LOCAL_PART
        and _LOCAL.fullmatch(local)
        and _DOMAIN.fullmatch(domain)
    )


def read_sender(raw_values: list[str]) -> SenderReading:
    """The one address of the From header (`raw_values`: every From header of the
    message, unfolded raw text; display names are never read)."""
    if not raw_values:
        return _refused("brak nagłówka From")
    if len(raw_values) > 1:
        return _refused("więcej niż jeden nagłówek From")
    raw = raw_values[0]
    if len(raw) > 2000:
        return _refused("nagłówek From jest za długi")
    if "\x00" in raw or "\r" in raw or "\n" in raw:
        return _refused("nagłówek From zawiera znaki sterujące")
    return fast_address(raw) or registry_address(raw)


def fast_address(raw: str) -> SenderReading | None:
    """The address of a From value in one of the plain shapes; None for anything else."""
    fast = _FAST.fullmatch(raw)
    if fast is None or "=?" in raw:
        return None
    spec = fast.group(1) or fast.group(2)
    return SenderReading(spec) if valid_address(spec) else None


def registry_address(raw: str) -> SenderReading:
    """The address of a From value as the standard library's header registry parses it."""
    try:
        header = _REGISTRY("From", _ENCODED_WORD.sub("x", raw))
        assert isinstance(header, AddressHeader)
        addresses = list(header.addresses)
        defects = [d for d in header.defects if not isinstance(d, _TOLERATED_DEFECTS)]
    except Exception:  # the registry raises on some broken input (IndexError, ValueError)
        return _refused("nieczytelny nagłówek From")
    if defects:
        return _refused("nagłówek From nie jest poprawnym adresem")
    if len(addresses) != 1:
        return _refused("nagłówek From nie zawiera dokładnie jednego adresu")
    address = addresses[0]
    spec = f"{address.username}@{address.domain}"
    if not address.username or not address.domain or not valid_address(spec):
        return _refused("nagłówek From nie jest poprawnym adresem")
    return SenderReading(spec)


def same_address(one: str, other: str) -> bool:
    """The sender check of RULES.md section 1: the whole address, case-insensitively."""
    return one.strip().casefold() == other.strip().casefold()


def address_key(address: str) -> str:
    """An address as a key (the daily reply limit, our own mailboxes): case-folded like
    `same_address`, and cut to the column's length (casefold can lengthen "ß")."""
    return address.strip().casefold()[:MAX_ADDRESS]
