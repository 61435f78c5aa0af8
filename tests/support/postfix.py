"""A throwaway Postfix on a loopback port that delivers a test domain to a throwaway
Dovecot over LMTP: a real MTA that accepts mail and bounces it later, as the relays our
replies go through do.

Everything lives in a temp dir: its own config_directory, queue_directory and
data_directory, started with `postfix -c DIR start`, stopped with `postfix -c DIR abort`
and a wait for the master to exit; the system's /etc/postfix and its service are never
touched. Postfix accepts any
recipient of the domain at RCPT (smtpd_reject_unlisted_recipient = no: it does not know
the users), Dovecot refuses an unknown one over LMTP (550 5.1.1), and Postfix then
returns a delivery report (RFC 3464) to the envelope sender, itself a Dovecot user: the
"accepted now, bounced later" path of a real reply whose reader's address is wrong.

Postfix's master must start as root (it binds, then drops to `mail_owner`); CI runs as
root. Without root or without Postfix the fixture fails with the reason, as the Dovecot
harness does: nothing is skipped.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import imapclient
import pytest

from empikgo_mailer.domain.errors import Unreachable
from empikgo_mailer.rehearsal.ports import free_port
from tests.support.dovecot import DovecotServer

DOMAIN = "biblioteka.test"
BRANCH = "dwm"  # a branch mailbox: the envelope sender of replies, and where bounces land
READER = "reader"  # a reader's mailbox at the same domain
USERS = {BRANCH: "dwm-secret", READER: "reader-secret"}

MAIN_CF = """
compatibility_level = 3.6
queue_directory = {base}/queue
data_directory = {base}/data
mail_owner = {mail_owner}
setgid_group = {setgid_group}
myhostname = mx.{domain}
mydomain = {domain}
myorigin = $mydomain
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
# Nothing is delivered locally: the domain is virtual, its mailboxes live in Dovecot.
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
virtual_mailbox_domains = {domain}
virtual_transport = lmtp:inet:127.0.0.1:{lmtp_port}
# Accept every recipient of the domain; Dovecot decides at delivery time, and Postfix
# bounces what it refuses.
smtpd_reject_unlisted_recipient = no
recipient_delimiter = +
# Loopback only: no DNS, no reverse lookups of 127.0.0.1, no TLS.
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtpd_tls_security_level = none
smtp_tls_security_level = none
lmtp_tls_security_level = none
# A refused delivery is retried within seconds (a test waits for the outcome, not hours).
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
# Logs to a file of its own (there may be no syslog), for a failing test to show.
maillog_file = {base}/maillog
maillog_file_prefixes = {base}
"""

MASTER_CF = """
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class PostfixUnavailable(Unreachable):
    pass


def _postfix() -> str:
    found = shutil.which("postfix") or "/usr/sbin/postfix"
    if not Path(found).exists():
        raise PostfixUnavailable("postfix not found: install postfix (scripts/setup.sh does)")
    return found


class PostfixServer:
    """Postfix on 127.0.0.1:`port`, virtual domain `domain` delivered to LMTP `lmtp_port`."""

    def __init__(self, *, domain: str, lmtp_port: int, parent: Path | None = None) -> None:
        self.binary = _postfix()
        if os.geteuid() != 0:
            raise PostfixUnavailable("postfix's master starts as root: run the tests as root")
        try:
            self.mail_owner = pwd.getpwnam("postfix")
            grp.getgrnam("postdrop")
        except KeyError as exc:
            raise PostfixUnavailable(f"the postfix package's {exc} is missing") from None
        self.domain = domain
        self.lmtp_port = lmtp_port
        self.base = Path(tempfile.mkdtemp(prefix="empikgo-postfix-", dir=parent))
        self.config = self.base / "config"
        self.port = free_port()
        self.running = False

    def start(self) -> PostfixServer:
        # Postfix's processes (as `postfix`) must reach the queue through the temp dir.
        os.chmod(self.base, 0o755)  # noqa: S103
        for sub in ("config", "queue", "data"):
            (self.base / sub).mkdir()
        os.chown(self.base / "data", self.mail_owner.pw_uid, self.mail_owner.pw_gid)
        values = {
            "base": self.base,
            "domain": self.domain,
            "port": self.port,
            "lmtp_port": self.lmtp_port,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
        }
        (self.config / "main.cf").write_text(MAIN_CF.format(**values), encoding="utf-8")
        (self.config / "master.cf").write_text(MASTER_CF.format(**values), encoding="utf-8")
        # `start` creates the queue's directories (post-install), checks them, and waits
        # for the master to report that it is up.
        self.running = True  # from here on `stop` looks for a master to stop
        started = self._postfix("start")
        if started.returncode != 0:
            log = self.log()
            self.stop()
            raise PostfixUnavailable(
                f"postfix did not start ({started.returncode}): "
                f"{started.stdout[-1000:]}{started.stderr[-1000:]}\n{log[-2000:]}"
            )
        deadline = time.monotonic() + 10
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=5) as smtp:
                    smtp.noop()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    log = self.log()
                    self.stop()
                    raise PostfixUnavailable(
                        f"postfix does not answer on {self.port}: {log[-2000:]}"
                    ) from None
                time.sleep(0.1)

    def _postfix(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, "-c", str(self.config), command],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def log(self) -> str:
        path = self.base / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop the master and every Postfix process, then remove every file. `postfix
        abort` signals the master as `postfix stop` does, without `stop`'s one-second
        pauses; the wait is here, and what is left after it is killed, as `stop` would."""
        if self.running:
            pid_file = self.base / "queue" / "pid" / "master.pid"
            pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
            self._postfix("abort")
            self.running = False
            deadline = time.monotonic() + 10
            while pid is not None and _alive(pid):
                if time.monotonic() > deadline:
                    os.killpg(pid, signal.SIGKILL)  # the master leads its process group
                    break
                time.sleep(0.05)
        shutil.rmtree(self.base, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie waiting for init to reap it does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


@dataclass
class MailRelay:
    """Postfix in front of Dovecot, for `domain`: users BRANCH and READER (USERS)."""

    postfix: PostfixServer
    dovecot: DovecotServer
    domain: str

    def address(self, user: str, detail: str | None = None) -> str:
        local = user if detail is None else f"{user}+{detail}"
        return f"{local}@{self.domain}"

    def inbox(self, user: str) -> list[bytes]:
        """Every message in `user`'s INBOX, oldest first, left unread."""
        with self.dovecot.client(user) as client:
            client.select_folder("INBOX", readonly=True)
            uids = client.search("ALL")
            fetched = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
            return [fetched[uid][b"BODY[]"] for uid in sorted(fetched)]

    def wait_for(
        self,
        user: str,
        found: Callable[[bytes], bool],
        *,
        what: str,
        timeout: float = 30,
    ) -> bytes:
        """The first message in `user`'s INBOX that `found` accepts, waiting at most
        `timeout` seconds; fails with Postfix's log when none comes."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                for raw in self.inbox(user):
                    if found(raw):
                        return raw
            except (OSError, imaplib.IMAP4.error, imapclient.exceptions.IMAPClientError):
                pass  # Dovecot busy delivering: look again
            if time.monotonic() > deadline:
                pytest.fail(
                    f"no {what} in {user}'s INBOX after {timeout:.0f} s; postfix's log:\n"
                    f"{self.postfix.log()[-3000:]}"
                )
            time.sleep(0.2)


@contextmanager
def running_relay(users: Mapping[str, str], domain: str = DOMAIN) -> Iterator[MailRelay]:
    """A real Postfix relaying `domain` to a real Dovecot whose users are `users`."""
    dovecot = DovecotServer(dict(users), lmtp=True).start()
    try:
        assert dovecot.lmtp_port is not None
        postfix = PostfixServer(domain=domain, lmtp_port=dovecot.lmtp_port).start()
        try:
            yield MailRelay(postfix, dovecot, domain)
        finally:
            postfix.stop()
    finally:
        dovecot.stop()


@pytest.fixture
def mail_relay() -> Iterator[MailRelay]:
    """A real Postfix relaying DOMAIN to a real Dovecot (users BRANCH and READER)."""
    with running_relay(USERS) as relay:
        yield relay
