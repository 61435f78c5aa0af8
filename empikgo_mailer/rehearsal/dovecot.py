"""A throwaway Dovecot IMAP server on a loopback port, configured from scratch (for the
tests and the demo), with an LMTP listener on request (for a throwaway MTA to deliver to).

Dovecot's login process refuses to run as root, mailboxes must not belong to uid 0, and
the server must not touch the system's /etc/dovecot: everything lives in a temp dir.
"""

# Fixed argument lists (no shell) naming Dovecot and procps tools found on PATH.
# ruff: noqa: S603, S607

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import imapclient

from empikgo_mailer.domain.errors import Unreachable
from empikgo_mailer.rehearsal.ports import free_port

CONFIG = """
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
mail_location = maildir:{base}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1
mail_max_userip_connections = 1000
imap_idle_notify_interval = 1 secs
import_environment = {environment}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={base}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""

# LMTP for a test MTA (tests/support/postfix.py). "dwm+r42" is delivered to "dwm" (the
# detail is dropped: lmtp_save_to_detail_mailbox = no), as a branch's per-reply return
# path must be. The static userdb checks each recipient against the passdb, so an
# unknown user is refused at RCPT with 550 5.1.1, as a real mailbox server does. LMTP
# looks recipients up by their whole address; the passwd-file (as IMAP logins) has bare
# user names, hence the domain dropped for LMTP alone.
LMTP_CONFIG = """
protocols = imap lmtp
recipient_delimiter = +
lmtp_save_to_detail_mailbox = no
protocol lmtp {{
  auth_username_format = %Ln
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
"""


# Where Dovecot's lmtp program lives: Debian and Ubuntu, then Fedora and source builds.
LMTP_PROGRAM = ("/usr/lib/dovecot/lmtp", "/usr/libexec/dovecot/lmtp")

# Tokens for XOAUTH2 / OAUTHBEARER go to the oauth2 passdb; passwords to the passwd-file.
OAUTH2_PASSDB = """auth_mechanisms = plain login xoauth2 oauthbearer
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {base}/oauth2.conf.ext
}}"""
OAUTH2_CONFIG = """introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
"""


# Dovecot's own default: what its processes keep of the master's environment.
KEPT_ENVIRONMENT = ("TZ", "CORE_OUTOFMEM", "CORE_ERROR", "LISTEN_PID", "LISTEN_FDS")
# libfaketime's: a suite run under `faketime` keeps Dovecot in the same (faked) time.
FAKETIME_ENVIRONMENT = ("LD_PRELOAD", "FAKETIME", "FAKETIME_SHARED", "FAKETIME_NO_CACHE")
# A faked clock fakes file times too; Dovecot keeps INTERNALDATE as a file's mtime, so the
# time it sets (APPEND with a date) must be faked back, or every such date moves.
FAKE_FILE_TIMES = "FAKE_UTIME=1"
LIBFAKETIME = (
    "/usr/lib/*/faketime/libfaketime.so.1",  # Debian, Ubuntu
    "/usr/lib64/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
)


class DovecotUnavailable(Unreachable):
    pass


def libfaketime() -> Path | None:
    """libfaketime's library, if installed (Debian's package `faketime`)."""
    found = (Path(path) for pattern in LIBFAKETIME for path in sorted(glob.glob(pattern)))
    return next(found, None)


class DovecotServer:
    def __init__(
        self,
        users: dict[str, str],
        *,
        oauth2_introspection: str | None = None,
        parent: Path | None = None,
        ahead: timedelta | None = None,
        lmtp: bool = False,
    ) -> None:
        """`oauth2_introspection`: also accept SASL XOAUTH2 / OAUTHBEARER logins, their
        tokens checked at this URL (RFC 7662 style: POST token=..., JSON with `active` and
        `username`). `parent`: where its directory is made (the system's temp dir).
        `ahead`: the server's clock runs this far ahead of the real one (libfaketime), for
        a rehearsal of a month to come: Dovecot dates a message APPENDed with a time later
        than its own clock at its own clock. `lmtp`: also accept deliveries over LMTP on
        127.0.0.1:`lmtp_port` (Debian's package dovecot-lmtpd)."""
        self.binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not Path(self.binary).exists():
            raise DovecotUnavailable(
                "dovecot not found: install dovecot-imapd (scripts/setup.sh does)"
            )
        if lmtp and not any(Path(path).exists() for path in LMTP_PROGRAM):
            raise DovecotUnavailable(
                "dovecot's lmtp not found: install dovecot-lmtpd (scripts/setup.sh does)"
            )
        self.users = users
        self.oauth2_introspection = oauth2_introspection
        self.faked = self._faked_clock(ahead)
        self.base = Path(tempfile.mkdtemp(prefix="empikgo-dovecot-", dir=parent))
        self.port = free_port()
        self.lmtp_port = free_port() if lmtp else None
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def _faked_clock(ahead: timedelta | None) -> dict[str, str]:
        """The libfaketime variables of the server's processes (none: the real clock).
        Under a faked clock already (a suite run by scripts/faketime.sh) the server keeps
        it, and `ahead` moves it further."""
        inherited = {name: os.environ[name] for name in FAKETIME_ENVIRONMENT if name in os.environ}
        if ahead is None:
            return inherited
        offset = int(ahead.total_seconds())
        if "libfaketime" in inherited.get("LD_PRELOAD", ""):
            offset += int(inherited.get("FAKETIME", "+0").lstrip("+") or 0)
            return {**inherited, "FAKETIME": f"+{offset}"}
        library = libfaketime()
        if library is None:
            raise DovecotUnavailable(
                "libfaketime not found: install faketime (scripts/setup.sh does)"
            )
        return {"LD_PRELOAD": str(library), "FAKETIME": f"+{offset}"}

    def start(self) -> DovecotServer:
        os.chmod(self.base, 0o755)  # noqa: S103 (login and mail processes must reach it)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("dovecot")
            login_user, internal_user = "dovenull", "dovecot"
        else:
            owner = pwd.getpwuid(os.geteuid())
            login_user = internal_user = owner.pw_name
        uid, gid = owner.pw_uid, owner.pw_gid
        for sub in ("run", "state", "mail", "home"):
            (self.base / sub).mkdir(exist_ok=True)
            os.chown(self.base / sub, uid, gid) if sub in {"mail", "home"} else None
        (self.base / "passwd").write_text(
            "".join(f"{user}:{{PLAIN}}{password}::::::\n" for user, password in self.users.items()),
            encoding="utf-8",
        )
        config = self.base / "dovecot.conf"
        text = CONFIG
        if self.oauth2_introspection is not None:
            (self.base / "oauth2.conf.ext").write_text(
                OAUTH2_CONFIG.format(url=self.oauth2_introspection), encoding="utf-8"
            )
            text = text.replace("auth_mechanisms = plain login", OAUTH2_PASSDB)
        if self.lmtp_port is not None:
            text = text.replace("protocols = imap\n", LMTP_CONFIG)
        config.write_text(
            text.format(
                base=self.base,
                port=self.port,
                lmtp_port=self.lmtp_port,
                uid=uid,
                gid=gid,
                login_user=login_user,
                internal_user=internal_user,
                # The master and every process it starts keep one (faked) clock.
                environment=" ".join(
                    [*KEPT_ENVIRONMENT, *self.faked, FAKE_FILE_TIMES]
                    if self.faked
                    else KEPT_ENVIRONMENT
                ),
            ),
            encoding="utf-8",
        )
        with (self.base / "stderr.log").open("wb") as stderr:
            self.process = subprocess.Popen(
                [self.binary, "-F", "-c", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env={**os.environ, **self.faked},
            )
        deadline = time.monotonic() + 20
        while True:
            try:
                self.client(next(iter(self.users))).logout()
                return self
            except (OSError, imapclient.exceptions.IMAPClientError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = "".join(
                        path.read_text(errors="replace")
                        for path in (self.base / "dovecot.log", self.base / "stderr.log")
                        if path.exists()
                    )
                    self.stop()
                    raise DovecotUnavailable(f"dovecot did not start: {log[-2000:]}") from None
                time.sleep(0.1)

    def client(self, user: str) -> imapclient.IMAPClient:
        client = imapclient.IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(user, self.users[user])
        return client

    def halt(self, *, kill: bool = False) -> None:
        """Stop the server and keep its mail, as an outage does; `start` brings it back
        on the same port. `kill`: SIGKILL to the master and every Dovecot process."""
        if self.process is None or self.process.poll() is not None:
            return
        if kill:
            subprocess.run(["pkill", "-KILL", "-f", str(self.base / "dovecot.conf")], check=False)
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        # The old master's children must be gone before a new master takes the base_dir.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = subprocess.run(
                ["pgrep", "-f", str(self.base / "dovecot.conf")], capture_output=True, check=False
            )
            if alive.returncode != 0:
                break
            time.sleep(0.1)

    def renumber(self, user: str) -> None:
        """Make the server give `user`'s mailbox a new UIDVALIDITY, as after a restore from
        backup or a migration: stop, drop the UID list and indexes, start again."""
        self.halt()
        mailbox = self.base / "mail" / user
        for path in [mailbox / "dovecot-uidlist", *mailbox.glob("dovecot.index*")]:
            path.unlink(missing_ok=True)
        time.sleep(1.1)  # UIDVALIDITY is the time in seconds: make sure it differs
        self.start()

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.base, ignore_errors=True)
