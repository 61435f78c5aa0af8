"""What went wrong on a link to a mail server, told twice: one Polish line for the person who
fixes it (`doctor`, `status`, the dashboard) and one English line for the log.

imaplib and imapclient put the server's answer into their errors as a Python bytes repr
(`b'[AUTHENTICATIONFAILED] Authentication failed.'`), and the socket layer speaks in errno
texts. Here the server's words are decoded and quoted as they are, everything around
them is ours, and each kind of network failure (refused, unknown host, TLS, no answer)
gets its own sentence naming host:port and the setting to look at."""

from __future__ import annotations

import ast
import errno
import re
import socket
import ssl
from dataclasses import dataclass

MAX_SERVER_TEXT = 300  # a server's answer quoted in one line, not a page of it

_BYTES_REPR = re.compile(r"""b'(?:[^'\\]|\\.)*'|b"(?:[^"\\]|\\.)*\"""")
_BYTES_LIST = re.compile(r"\[\s*(b(?:'[^']*'|\"[^\"]*\"))\s*\]")
# imapclient: "select failed: ..."; imaplib: "LOGIN command error: BAD [b'...']".
_COMMAND_PREFIX = re.compile(r"^(?:[\w ]+ failed: |[\w ]+ command error: (?:NO|BAD) )", re.I)
_RESPONSE_CODE = re.compile(r"^\[([A-Z][A-Z0-9-]*)(?: [^\]]*)?\]\s*")
_DOVECOT_TIMING = re.compile(r"\s*\(\d+\.\d+ \+ \d+\.\d+(?: \+ \d+\.\d+)? secs\)")

# The errno names an IT person can look up, in Polish where we know the case.
_ERRNO_POLISH = {
    errno.ECONNRESET: "połączenie zerwane przez drugą stronę",
    errno.ENETUNREACH: "sieć nieosiągalna",
    errno.EHOSTUNREACH: "host nieosiągalny",
    errno.ETIMEDOUT: "upłynął czas oczekiwania",
    errno.EPIPE: "połączenie zamknięte przez drugą stronę",
    errno.EADDRNOTAVAIL: "adres niedostępny",
}


@dataclass(frozen=True)
class Problem:
    """One failure, for people (Polish) and for the log (English); neither holds a secret."""

    polish: str
    english: str


def _unbytes(match: re.Match[str]) -> str:
    try:
        value = ast.literal_eval(match.group(0))
    except (ValueError, SyntaxError):
        return match.group(0)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def server_text(exc: BaseException) -> str:
    """The server's own words from an imaplib/imapclient error, decoded, on one line:
    "[AUTHENTICATIONFAILED] Authentication failed." becomes "AUTHENTICATIONFAILED:
    Authentication failed."; bytes reprs, command prefixes and Dovecot's timings go."""
    raw = exc.args[0] if exc.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or exc)
    text = _BYTES_LIST.sub(lambda m: m.group(1), text)
    text = _BYTES_REPR.sub(_unbytes, text)
    text = _COMMAND_PREFIX.sub("", text.strip())
    text = _DOVECOT_TIMING.sub("", text)
    code = _RESPONSE_CODE.match(text)
    if code is not None:
        rest = text[code.end() :].strip()
        text = f"{code.group(1)}: {rest}" if rest else code.group(1)
    text = " ".join(text.split())
    return text[:MAX_SERVER_TEXT] or type(exc).__name__


def response_code(exc: BaseException) -> str | None:
    """The IMAP response code in the server's answer (RFC 5530), e.g. AUTHENTICATIONFAILED."""
    match = re.match(r"^([A-Z][A-Z0-9-]*)(?::|$)", server_text(exc))
    return match.group(1) if match else None


def _errno_text(exc: OSError) -> str:
    if exc.errno in _ERRNO_POLISH:
        return _ERRNO_POLISH[exc.errno]
    name = errno.errorcode.get(exc.errno or 0)
    return f"błąd sieci {name}" if name else f"błąd sieci {type(exc).__name__}"


def network_reason(exc: BaseException | str, timeout: float) -> str:
    """A few Polish words on why a connection failed, for a line that says the rest
    (urllib's URLError gives its reason as an exception or, rarely, as a text)."""
    if isinstance(exc, str):
        return "błąd sieci"
    if isinstance(exc, ConnectionRefusedError):
        return "odmowa połączenia"
    if isinstance(exc, socket.gaierror):
        return "nazwy nie ma w DNS"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"brak odpowiedzi w ciągu {timeout:g} s".replace(".", ",")
    if isinstance(exc, ssl.SSLError):
        return f"błąd TLS: {_tls_reason(exc)}"
    if isinstance(exc, OSError):
        return _errno_text(exc)
    return f"błąd {type(exc).__name__}"


def _tls_reason(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return exc.verify_message
    return exc.reason or type(exc).__name__


def network_problem(
    exc: BaseException,
    *,
    server: str,
    host: str,
    port: int,
    timeout: float,
    settings: str,
    tls_hint: str,
) -> Problem | None:
    """The failure of a connection itself (before any answer from the server), or None
    when `exc` is something else. `server` names it ("serwer IMAP"), `settings` says
    where host and port are set, `tls_hint` which port goes with which security."""
    at = f"{host}:{port}"
    seconds = f"{timeout:g}".replace(".", ",")
    if isinstance(exc, ConnectionRefusedError):
        return Problem(
            f"{server} {at} odmówił połączenia: sprawdź, czy serwer działa, oraz host i port "
            f"w {settings}",
            f"connection refused by {at}",
        )
    if isinstance(exc, socket.gaierror):
        return Problem(
            f"nie znaleziono w DNS nazwy „{host}” ({server} {at}): sprawdź host w {settings} "
            "i DNS tego komputera",
            f"host name {host!r} not found in DNS (errno {exc.errno})",
        )
    if isinstance(exc, TimeoutError | socket.timeout):
        return Problem(
            f"{server} {at} nie odpowiedział w ciągu {seconds} s: sprawdź host, port i security "
            f"w {settings} oraz zaporę sieciową ({tls_hint})",
            f"no answer from {at} within {timeout:g} s",
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = _tls_reason(exc)
        return Problem(
            f"certyfikat {at} nie przeszedł weryfikacji ({reason}): sprawdź, czy host "
            f"w {settings} to nazwa z certyfikatu serwera i czy certyfikat jest ważny",
            f"TLS certificate of {at} not accepted ({reason})",
        )
    if isinstance(exc, ssl.SSLError):
        reason = _tls_reason(exc)
        return Problem(
            f"nie udało się nawiązać TLS z {at} ({reason}): sprawdź security i port "
            f"w {settings} ({tls_hint})",
            f"TLS handshake with {at} failed ({reason})",
        )
    if isinstance(exc, EOFError | ConnectionResetError | BrokenPipeError):
        return Problem(
            f"{server} {at} zerwał połączenie: jeśli to się powtarza, sprawdź security i port "
            f"w {settings} ({tls_hint})",
            f"connection to {at} closed by the server ({type(exc).__name__})",
        )
    if isinstance(exc, OSError):
        return Problem(
            f"brak połączenia z {at} ({_errno_text(exc)}): sprawdź sieć oraz host i port "
            f"w {settings}",
            f"no connection to {at} ({errno.errorcode.get(exc.errno or 0, type(exc).__name__)})",
        )
    return None
