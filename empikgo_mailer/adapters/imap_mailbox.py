"""A branch mailbox over IMAP (imapclient): fetch by UID without marking anything read,
file decided messages into folders, and wait for new mail with IDLE."""

from __future__ import annotations

import functools
import imaplib
import logging
import re
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ParamSpec, TypeVar

import imapclient
from imapclient.exceptions import CapabilityError, IMAPClientAbortError, IMAPClientError

from empikgo_mailer.adapters.imap_fetch import Fetched, read_fetch
from empikgo_mailer.adapters.oauth2 import TokenUnavailable, access_token
from empikgo_mailer.adapters.server_problems import (
    Problem,
    network_problem,
    response_code,
    server_text,
)
from empikgo_mailer.config import ImapSettings, oauth_refresh_variable
from empikgo_mailer.domain.errors import Unreachable

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

# Errors after which the connection is not to be trusted: reconnect and carry on.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (OSError, IMAPClientError, EOFError)
# Logging in can also fail for want of an OAuth2 token.
LOGIN_ERRORS: tuple[type[BaseException], ...] = (*CONNECTION_ERRORS, TokenUnavailable)
# The link itself is gone, as the socket and imaplib say it.
_LINK_LOST: tuple[type[BaseException], ...] = (OSError, IMAPClientAbortError, EOFError)


UIDS_PER_FETCH = 1000  # UIDs listed in one FETCH command: some 7 KB, well within a line
_MESSAGE_ID_FIELD = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"
_MESSAGE_ID_ITEM = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"
_MSG_ID = re.compile(rb"<[^<>\s]+>")


@dataclass
class FolderSeen:
    """What one pass has read of a Sent folder: its Message-IDs up to `last_uid`. UIDs
    only grow within one UIDVALIDITY, so a later read asks for the newer ones only."""

    uidvalidity: int | None = None
    since: date | None = None
    last_uid: int = 0
    ids: set[str] = field(default_factory=set)

    def restart(self, uidvalidity: int, since: date) -> None:
        self.uidvalidity, self.since, self.last_uid = uidvalidity, since, 0
        self.ids.clear()


class MailboxUnavailable(Unreachable):
    """The mailbox cannot be reached or logged into. Its text is one Polish line for
    whoever fixes it (`status`, the dashboard), naming the mailbox; `detail` the same
    without the mailbox's name (for `doctor`, whose line names it); `log_text` the English
    line for the log."""

    def __init__(self, message: str, log_text: str | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.log_text = log_text if log_text is not None else message
        self.detail = detail or message


class MailboxNotConfigured(MailboxUnavailable):
    """Something only the administrator can fix (a missing password): no point retrying."""


class MailboxLinkLost(MailboxUnavailable):
    """The connection broke while working on the mailbox (after logging in)."""


class ImapRefused(imaplib.IMAP4.error):  # = IMAPClientError, typed
    """A NO or BAD answer about something asked (a folder, some messages), the link still
    good. Its text is only the server's words, decoded, as staff see them quoted."""


# The link itself is gone (as opposed to a NO or BAD answer about some messages).
LINK_ERRORS: tuple[type[BaseException], ...] = (*_LINK_LOST, MailboxLinkLost)


def _unavailable(
    problem: Problem, settings: ImapSettings, kind: type[MailboxUnavailable] = MailboxUnavailable
) -> MailboxUnavailable:
    who = f"skrzynka {settings.branch}" if settings.branch else f"skrzynka {settings.username}"
    return kind(
        f"{who}: {problem.polish}.",
        f"mailbox {settings.branch or settings.username}: {problem.english}",
        problem.polish,
    )


def _plain_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Errors of a mailbox's work (after `connect`) in our words: a lost link becomes
    MailboxLinkLost (Polish, naming the server), a refusal ImapRefused (the server's
    words decoded): no bytes reprs reach staff or the log."""

    @functools.wraps(method)
    def plain(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (MailboxUnavailable, ImapRefused):
            raise
        except _LINK_LOST as exc:
            mailbox = args[0]
            assert isinstance(mailbox, ImapMailbox)
            settings = mailbox.settings
            problem = connect_problem(exc, settings, "work")
            raise _unavailable(problem, settings, MailboxLinkLost) from exc
        except IMAPClientError as exc:
            raise ImapRefused(server_text(exc)) from exc

    return plain


def _login_refused(exc: BaseException, s: ImapSettings) -> Problem:
    """The server answered LOGIN (or AUTHENTICATE) with NO: say which secret to check."""
    said, code = server_text(exc), response_code(exc)
    if code == "PRIVACYREQUIRED":
        return Problem(
            f"serwer IMAP nie przyjmuje logowania bez szyfrowania ({said}): ustaw security = "
            f'"ssl" (port 993) albo "starttls" (port 143) w {s.section}',
            f"login refused without TLS ({said})",
        )
    if code == "UNAVAILABLE":
        return Problem(
            f"serwer IMAP chwilowo nie może zalogować ({said}): spróbuj ponownie później",
            f"login temporarily unavailable ({said})",
        )
    if s.oauth is not None:
        token = (
            f" i token odświeżania w {oauth_refresh_variable(s.branch)}"
            if s.oauth.provider == "google" and s.branch
            else ""
        )
        return Problem(
            f"serwer IMAP odrzucił logowanie OAuth2 użytkownika {s.username} ({said}): sprawdź "
            f"aplikację w [oauth2], jej sekret w EMPIKGO_OAUTH2_CLIENT_SECRET{token} oraz jej "
            "dostęp do tej skrzynki",
            f"OAuth2 login of {s.username} refused ({said})",
        )
    return Problem(
        f"serwer IMAP odrzucił logowanie użytkownika {s.username} ({said}): sprawdź hasło "
        f"w {s.password_variable} i username w {s.section}",
        f"login of {s.username} refused ({said})",
    )


def connect_problem(exc: BaseException, s: ImapSettings, stage: str) -> Problem:
    """Why connecting (`stage` "connect"), logging in ("login") or opening the folder
    ("select") failed, from what imaplib, imapclient, ssl or the socket raised."""
    tls_hint = "993 to zwykle ssl, 143 starttls"
    network = network_problem(
        exc,
        server="serwer IMAP",
        host=s.host,
        port=s.port,
        timeout=s.timeout_seconds,
        settings=s.section,
        tls_hint=tls_hint,
    )
    if network is not None:
        return network
    at = f"{s.host}:{s.port}"
    if isinstance(exc, TokenUnavailable):
        return Problem(f"{exc}", f"no OAuth2 token: {exc.log_text}")
    if isinstance(exc, CapabilityError) and "STARTTLS" in str(exc):
        return Problem(
            f'serwer IMAP {at} nie oferuje STARTTLS: ustaw security = "ssl" z portem 993 '
            f"w {s.section}",
            f"{at} offers no STARTTLS",
        )
    said = server_text(exc)
    if isinstance(exc, IMAPClientAbortError):
        # imaplib's words about the socket, not the server's: the socket's error, if any,
        # says it better; the rest goes to the log only.
        underneath = exc.__cause__ or exc.__context__
        if isinstance(underneath, OSError | EOFError):
            return connect_problem(underneath, s, stage)
        return Problem(
            f"serwer IMAP {at} zerwał połączenie: jeśli to się powtarza, sprawdź security "
            f"i port w {s.section} ({tls_hint})",
            f"connection to {at} aborted ({said})",
        )
    if stage == "login":
        return _login_refused(exc, s)
    if stage == "select":
        return Problem(
            f"serwer IMAP nie otworzył folderu „{s.folder}” ({said}): sprawdź folder w {s.section}",
            f"folder {s.folder!r} not opened ({said})",
        )
    return Problem(
        f"serwer IMAP {at} odpowiedział błędem ({said}): sprawdź security i port w {s.section}",
        f"{at} answered with an error ({said})",
    )


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    received_at: datetime | None  # INTERNALDATE, aware; None if the server gave none
    size: int
    raw: bytes | None  # None when the message is over the size limit (or unreadable)
    header: bytes  # always present: for a large message, only this was downloaded
    error: str | None = None  # the server would not give this message (for staff)


def _size(meta: dict[bytes, object]) -> int:
    size = meta.get(b"RFC822.SIZE")
    return size if isinstance(size, int) and size >= 0 else 0


class ImapMailbox:
    def __init__(self, settings: ImapSettings) -> None:
        self.settings = settings
        self.client: Any = None
        self.uidvalidity = 0
        self._known_folders: set[str] = set()

    # connection ---------------------------------------------------------------------
    def connect(self) -> int:
        """Log in and select the folder; return its UIDVALIDITY. MailboxUnavailable (with
        a Polish line naming what to fix) when that cannot be done."""
        s = self.settings
        if s.password is None and s.oauth is None:
            missing = Problem(
                f"brak hasła IMAP użytkownika {s.username}: ustaw zmienną "
                f"{s.password_variable} (w środowisku albo w pliku .env)",
                f"no IMAP password ({s.password_variable} is not set)",
            )
            raise _unavailable(missing, s, MailboxNotConfigured)
        # Building a TLS context reads the system's CA store (about 20 ms): not for nothing.
        context = ssl.create_default_context() if s.security != "none" else None
        try:
            client = imapclient.IMAPClient(
                s.host,
                port=s.port,
                ssl=s.security == "ssl",
                ssl_context=context,
                timeout=s.timeout_seconds,
            )
        except CONNECTION_ERRORS as exc:
            raise _unavailable(connect_problem(exc, s, "connect"), s) from exc
        stage = "connect"
        try:
            if s.security == "starttls":
                client.starttls(context)
            stage = "login"
            if s.oauth is not None:
                client.oauth2_login(s.username, access_token(s.oauth), mech="XOAUTH2")
            elif s.password is not None:
                client.login(s.username, s.password.value)
            # Aware datetimes with the server's offset, not the machine's local time.
            client.normalise_times = False
            stage = "select"
            selected = client.select_folder(s.folder)
        except LOGIN_ERRORS as exc:
            try:
                client.shutdown()
            except CONNECTION_ERRORS:
                log.debug("closing a failed IMAP connection failed too")
            raise _unavailable(connect_problem(exc, s, stage), s) from exc
        self.client = client
        self.uidvalidity = int(selected[b"UIDVALIDITY"])
        return self.uidvalidity

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.logout()
        except CONNECTION_ERRORS:
            log.debug("IMAP logout failed; the connection is gone anyway")
            try:
                client.shutdown()  # the socket itself, or it stays open until collected
            except CONNECTION_ERRORS:
                log.debug("the IMAP socket was already closed")

    def interrupt(self) -> None:
        """From another thread: end a blocking IDLE at once by shutting the socket down."""
        client = self.client
        if client is None:
            return
        try:
            client.socket().shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            log.debug("the IMAP socket was already closed")

    @property
    @_plain_errors
    def capabilities(self) -> set[bytes]:
        return set(self.client.capabilities())

    # reading -----------------------------------------------------------------------
    @_plain_errors
    def uids_after(self, last_uid: int) -> list[int]:
        # "N:*" always includes the newest message, even when its UID is below N.
        return sorted(
            uid for uid in self.client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid
        )

    @_plain_errors
    def received_times(self, uids: Sequence[int]) -> dict[int, datetime]:
        """Each message's INTERNALDATE (its place in the queue), without its contents; a
        message the server gives no time for is left out."""
        times: dict[int, datetime] = {}
        for start in range(0, len(uids), UIDS_PER_FETCH):
            answer = self._fetch(uids[start : start + UIDS_PER_FETCH], "INTERNALDATE")
            for uid, items in answer.items():
                received = items.get(b"INTERNALDATE")
                if isinstance(received, datetime):
                    times[uid] = received
        return times

    @_plain_errors
    def fetch(self, uids: Sequence[int], max_bytes: int) -> list[FetchedMessage]:
        """BODY.PEEK keeps \\Seen untouched; messages over max_bytes are not downloaded whole.
        A message the server refuses to give (NO/BAD) comes back with its error, so it
        can be recorded for staff instead of stopping the others."""
        if not uids:
            return []
        meta = self._fetch(uids, "RFC822.SIZE INTERNALDATE")
        small = [uid for uid in uids if uid in meta and _size(meta[uid]) <= max_bytes]
        large = [uid for uid in uids if uid in meta and uid not in small]
        bodies = self._parts(small, "BODY.PEEK[]", b"BODY[]")
        headers = self._parts(large, "BODY.PEEK[HEADER]", b"BODY[HEADER]")
        fetched: list[FetchedMessage] = []
        for uid in uids:
            if uid not in meta:
                continue  # expunged between SEARCH and FETCH
            part = bodies.get(uid) if uid in bodies else headers.get(uid, b"")
            error = part if isinstance(part, str) else None
            data = part if isinstance(part, bytes) else None
            received = meta[uid].get(b"INTERNALDATE")
            fetched.append(
                FetchedMessage(
                    uid=uid,
                    received_at=received if isinstance(received, datetime) else None,
                    size=_size(meta[uid]),
                    raw=data if uid in bodies else None,
                    header=data or b"",
                    error=error,
                )
            )
        return fetched

    def _parts(self, uids: list[int], item: str, key: bytes) -> dict[int, bytes | str]:
        """`item` of each message: bytes, or the server's error for that message alone."""
        if not uids:
            return {}
        try:
            answer = self._fetch(uids, item)
            return {uid: answer.get(uid, {}).get(key) or b"" for uid in uids}
        except LINK_ERRORS:
            raise
        except IMAPClientError:
            log.warning("FETCH of %d messages refused; fetching them one by one", len(uids))
        found: dict[int, bytes | str] = {}
        for uid in uids:
            try:
                found[uid] = self.client.fetch([uid], [item]).get(uid, {}).get(key) or b""
            except LINK_ERRORS:
                raise
            except IMAPClientError as exc:
                found[uid] = f"serwer IMAP nie wydał wiadomości ({server_text(exc)})"[:500]
        return found

    def _fetch(self, uids: Sequence[int], items: str) -> Fetched:
        """What imapclient's `fetch(uids, items)` gives, read by `imap_fetch`: imaplib
        sends the command and collects the answer, as it does under imapclient."""
        typ, data = self.client._imap.uid("FETCH", ",".join(map(str, uids)), f"({items})")
        if typ != "OK":
            detail = data[0].decode("utf-8", "replace") if data and data[0] else typ
            raise IMAPClientError(f"fetch failed: {detail}")
        return read_fetch([line for line in data if line is not None], uids)

    @_plain_errors
    def uid_of(self, message_id: str) -> int | None:
        """Find a message by its Message-ID (after UIDVALIDITY changed)."""
        found = self.client.search(["HEADER", "Message-ID", message_id])
        return min(found) if found else None

    # filing ------------------------------------------------------------------------
    def _ensure_folder(self, folder: str) -> None:
        if folder in self._known_folders:
            return
        if not self.client.folder_exists(folder):
            self.client.create_folder(folder)
            self.client.subscribe_folder(folder)
        self._known_folders.add(folder)

    @_plain_errors
    def move(self, uids: Sequence[int], folder: str) -> None:
        """MOVE, or COPY + \\Deleted + expunge of exactly these UIDs where MOVE is missing."""
        if not uids:
            return
        self._ensure_folder(folder)
        if b"MOVE" in self.capabilities:
            self.client.move(list(uids), folder)
            return
        self.client.copy(list(uids), folder)
        self.client.add_flags(list(uids), [imapclient.DELETED])
        if b"UIDPLUS" in self.capabilities:
            self.client.uid_expunge(list(uids))
        else:
            self.client.expunge()

    @_plain_errors
    def ensure_folders(self, folders: Sequence[str]) -> list[str]:
        """Make sure these folders exist; return those that had to be created."""
        created = [f for f in folders if not self.client.folder_exists(f)]
        for folder in folders:
            self._ensure_folder(folder)
        return created

    @_plain_errors
    def copies_since(self, folder: str, since: date, seen: FolderSeen | None = None) -> set[str]:
        """The Message-IDs of the messages put into `folder` on or after `since` (created
        when missing): one SEARCH and a FETCH of one header each, however many there are.
        With `seen` (what an earlier call of this pass read), only the messages that came
        after it are read."""
        self._ensure_folder(folder)
        selected = self.client.select_folder(folder, readonly=True)
        validity = int(selected.get(b"UIDVALIDITY", 0))
        if seen is None:
            seen = FolderSeen()
        if seen.uidvalidity != validity or seen.since is None or since < seen.since:
            seen.restart(validity, since)
        try:
            criteria: list[object] = ["SINCE", seen.since]
            if seen.last_uid:
                criteria += ["UID", f"{seen.last_uid + 1}:*"]
            # "n:*" always names the highest UID, even one below n.
            uids = [uid for uid in self.client.search(criteria) if uid > seen.last_uid]
            for start in range(0, len(uids), UIDS_PER_FETCH):
                chunk = uids[start : start + UIDS_PER_FETCH]
                for data in self.client.fetch(chunk, [_MESSAGE_ID_FIELD]).values():
                    header = data.get(_MESSAGE_ID_ITEM, b"")
                    seen.ids.update(m.decode("ascii", "replace") for m in _MSG_ID.findall(header))
            seen.last_uid = max(uids, default=seen.last_uid)
            return set(seen.ids)
        finally:
            self.client.select_folder(self.settings.folder)

    @_plain_errors
    def append_copies(self, folder: str, copies: Sequence[tuple[bytes, datetime]]) -> None:
        """Append sent replies to `folder`, marked read, dated when they were sent: in one
        MULTIAPPEND (RFC 3502: all or none) where the server offers it."""
        if b"MULTIAPPEND" not in self.capabilities:
            for message, sent_at in copies:
                self.client.append(folder, message, flags=[imapclient.SEEN], msg_time=sent_at)
            return
        self.client.multiappend(
            folder,
            [{"msg": message, "flags": [imapclient.SEEN], "date": at} for message, at in copies],
        )

    # waiting -----------------------------------------------------------------------
    @_plain_errors
    def wait_for_mail(self, seconds: float) -> bool:
        """IDLE for up to `seconds`; True when the server announced something."""
        if b"IDLE" not in self.capabilities:
            return False
        self.client.idle()
        try:
            responses = self.client.idle_check(timeout=seconds)
        finally:
            self.client.idle_done()
        return bool(responses)
