"""Settings, loaded once from a TOML file and the environment (with `.env`).

Nothing else in the package reads `os.environ`. Secrets come only from the environment;
the TOML file holds everything that is safe to commit.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, time
from pathlib import Path
from typing import Any, Literal, TypeVar, cast, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from empikgo_mailer.adapters.import_columns import LOAN_FIELDS, PATRON_FIELDS
from empikgo_mailer.domain.bounces import ReturnPathPattern
from empikgo_mailer.domain.calendar import WEEKDAYS, OpeningHours
from empikgo_mailer.domain.eligibility import Policy
from empikgo_mailer.domain.errors import ExitCode, ProgramError
from empikgo_mailer.domain.fines import DEFAULT_DAILY_RATE_GROSZE, Location
from empikgo_mailer.domain.money import InvalidAmount, parse_pln
from empikgo_mailer.domain.platforms import (
    BUILT_IN,
    PLATFORM_ID,
    ClaimsOpen,
    Platform,
    PoolScope,
)

DEFAULT_CONFIG = Path("config/empikgo.toml")
# Every option, explained; shipped with the package (`empikgo-mailer example-config`).
EXAMPLE_CONFIG = Path(__file__).resolve().parent / "examples" / "empikgo.example.toml"
T = TypeVar("T")
Security = Literal["ssl", "starttls", "none"]
_SECURITY: tuple[Security, ...] = ("ssl", "starttls", "none")
_HOURS_RE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_BRANCH_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_BRANCH_ID_RULE = "małe litery, cyfry, - i _"


class ConfigError(ProgramError):
    """A wrong or missing option: one line that names the file and the key."""

    exit_code = ExitCode.USAGE
    label = "Błąd konfiguracji"

    def __init__(self, source: Path | str, key: str, message: str) -> None:
        super().__init__(f"{source}: {key}: {message}" if key else f"{source}: {message}")


@dataclass(frozen=True)
class Secret:
    """A password or token; its repr never shows the value, so logs cannot leak it."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


OAuthProvider = Literal["microsoft", "google"]
_PROVIDERS: tuple[OAuthProvider, ...] = ("microsoft", "google")
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 (an address, not a secret)


@dataclass(frozen=True)
class OAuthSettings:
    """SASL XOAUTH2 for one mailbox or the SMTP server (`auth = "oauth2"`): Microsoft 365
    with the app's client credentials, or Google Workspace with the mailbox's refresh
    token. Frozen and hashable: the process keeps one token cache per link."""

    provider: OAuthProvider
    client_id: str
    client_secret: Secret
    authority: str  # Microsoft: https://login.microsoftonline.com/<tenant>
    token_url: str  # Google: where the refresh token is exchanged
    refresh_token: Secret | None  # Google only
    # The link ("multimedia", "smtp") named in messages; not part of the cache key, so
    # Microsoft's client credentials stay one cache for every link of the library.
    link: str = field(default="", compare=False)


REQUIRED: Any = object()  # the default of an option the file must give


@dataclass(frozen=True)
class Option:
    """One key of a configuration section: its default and bounds (the key is the field's
    name, the type its annotation). The loader reads, checks and reports every option
    from these alone (`_Table.section`)."""

    default: Any
    low: float = -math.inf
    high: float = math.inf


def option(default: Any = REQUIRED, low: float = -math.inf, high: float = math.inf) -> Any:
    """The metadata of a field read from the file: `field(metadata=option(...))`."""
    return {"option": Option(default, low, high)}


@dataclass(frozen=True)
class ImapSettings:
    host: str = field(metadata=option())
    port: int = field()  # default by `security`: 993 or 143
    security: Security = field(metadata=option("ssl"))
    username: str = field(metadata=option())
    password: Secret | None = field()  # from the environment
    folder: str = field(metadata=option("INBOX"))
    timeout_seconds: float = field(metadata=option(30.0, 1.0, 600.0))
    oauth: OAuthSettings | None = None  # instead of the password
    # The branch whose mailbox this is: errors name its section and password variable.
    branch: str = ""

    @property
    def section(self) -> str:
        """Where these settings are in the file, for messages."""
        return f"[branches.{self.branch}.imap]" if self.branch else "[branches.<placówka>.imap]"

    @property
    def password_variable(self) -> str:
        return imap_password_variable(self.branch or "<placówka>")


@dataclass(frozen=True)
class SmtpSettings:
    host: str = field(metadata=option())
    port: int = field()  # default by `security`: 465, 587 or 25
    security: Security = field(metadata=option("starttls"))
    username: str | None = field(metadata=option(None))
    password: Secret | None = field()  # EMPIKGO_SMTP_PASSWORD
    timeout_seconds: float = field(metadata=option(30.0, 1.0, 600.0))
    oauth: OAuthSettings | None = None  # instead of the password
    # SMTP sessions the sender keeps open at once.
    connections: int = field(default=1, metadata=option(1, 1, 20))
    # Queued requests from which a pass sends from a second process while it decides.
    send_while_deciding_from: int = field(default=1000, metadata=option(1000, 0, 1_000_000))
    # The name in EHLO/HELO. A strict server refuses "localhost" (aiosmtplib's fallback
    # on a machine without a proper host name): by default the domain of the first
    # branch's mailbox, the domain the replies come from.
    helo_name: str = field(default="", metadata=option(""))


@dataclass(frozen=True)
class BranchSettings:
    id: str
    name: str
    address: str
    mailbox: str
    hours: OpeningHours
    imap: ImapSettings


@dataclass(frozen=True)
class PlatformSettings:
    platform: Platform
    enabled: bool
    activation_url: str


@dataclass(frozen=True)
class MailFolders:
    """Where a message goes once it is decided, so staff can follow it in a mail client."""

    answered: str = field(metadata=option("Empik Go - wydane"))  # a code was sent
    rejected: str = field(metadata=option("Empik Go - odmowy"))  # a refusal was sent
    # Set aside: automatic, not understood, too large, failing.
    staff: str = field(metadata=option("Empik Go - dla obsługi"))
    # Requests from senders not on file for any reader (RULES section 9), answered or not.
    strangers: str = field(metadata=option("Empik Go - nieznani nadawcy"))
    # Delivery reports about our replies (RULES section 8), once read.
    bounces: str = field(metadata=option("Empik Go - zwroty"))


@dataclass(frozen=True)
class MailSettings:
    max_message_bytes: int = field(metadata=option(10 * 1024 * 1024, 10_000, 2**31))
    max_replies_per_sender_per_day: int = field(metadata=option(3, 1, 1000))
    # Neutral replies to senders not on file for any reader, per branch and hour (RULES
    # section 9); above it such requests are filed without a reply and counted.
    stranger_replies_per_hour: int = field(metadata=option(100, 0, 100_000))
    fetch_batch: int = field(metadata=option(200, 1, 5000))
    # IMAP servers may drop an IDLE after 29 minutes; renew well before.
    idle_renew_seconds: int = field(metadata=option(600, 10, 1500))
    poll_seconds: int = field(metadata=option(60, 1, 3600))
    folders: MailFolders = field()
    # Every reply is also appended here in its branch mailbox, so staff see in their mail
    # client what each reader was told; None (an empty name) switches the copies off.
    sent_folder: str | None = field(default="Sent", metadata=option("Sent"))
    # A per-reply return path (RULES section 8): each reply's envelope sender is the
    # branch mailbox with this recipient delimiter and "r<reply id>" (dwm+r42@...), so a
    # delivery report names its reply even when it quotes nothing of it. "": off (the
    # mail server must deliver user+detail to user for it).
    return_path_separator: str = ""

    def return_path(self) -> ReturnPathPattern | None:
        separator = self.return_path_separator
        return ReturnPathPattern(separator=separator) if separator else None


@dataclass(frozen=True)
class WebSettings:
    """The HTTP door (`empikgo-mailer web`): the catalogue's Legimi claims."""

    host: str = field(metadata=option("127.0.0.1"))
    port: int = field(metadata=option(8080, 1, 65535))
    # The catalogue's bearer token (EMPIKGO_API_TOKEN); without it every claim gets 401.
    api_token: Secret | None = field()
    claims_per_card_per_minute: int = field(metadata=option(5, 1, 1000))
    # The staff console: a session unused this long ends.
    session_idle_minutes: int = field(default=30, metadata=option(30, 1, 24 * 60))
    # Served behind HTTPS: session cookies are marked Secure.
    https: bool = field(default=False, metadata=option(False))
    # The dashboard warns when a pool has this few codes left.
    pool_low_warning: int = field(default=10, metadata=option(10, 0, 100_000))
    # /readyz fails when the daemon's last pass ended longer ago than this.
    heartbeat_max_age_seconds: int = field(default=300, metadata=option(300, 10, 86_400))
    # /metrics asks for this bearer token when set (EMPIKGO_METRICS_TOKEN).
    metrics_token: Secret | None = None
    # Web processes serving together (uvicorn workers).
    workers: int = field(default=1, metadata=option(1, 1, 64))
    # The reverse proxies (addresses or networks) whose X-Forwarded-For names the client;
    # empty: nobody's, the connection's own address counts (login lock, audit "Skąd").
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobSettings:
    """The daemon's scheduled jobs."""

    drop_dir: Path  # pools/<platform>/<branch>/<YYYY-MM>.csv and activations/<platform>/*.csv
    scan_seconds: int = field(metadata=option(60, 1, 86400))
    month_close_at: time = field()  # on the 1st, for the month that just ended


@dataclass(frozen=True)
class ImportColumns:
    """`[import_columns.patrons]` / `[import_columns.loans]`: the library's own headers."""

    patrons: Mapping[str, str]
    loans: Mapping[str, str]


@dataclass(frozen=True)
class Settings:
    source: Path
    timezone: ZoneInfo
    data_dir: Path
    templates_dir: Path | None  # overrides of the packaged texts (None: the packaged ones)
    database_url: str
    database_busy_timeout: float
    branches: Mapping[str, BranchSettings]
    platforms: Mapping[Platform, PlatformSettings]
    policy: Policy
    smtp: SmtpSettings
    mail: MailSettings
    web: WebSettings
    jobs: JobSettings
    # Where items are lent and fines are settled, each on its own (RULES.md section 5).
    locations: Mapping[str, Location] = field(default_factory=dict)
    # The library system's own column names: "Header in the file" -> field, per import.
    import_columns: ImportColumns = field(default_factory=lambda: ImportColumns({}, {}))


class _Table:
    """A TOML table with typed getters that report the full dotted key on error."""

    def __init__(self, source: Path, prefix: str, data: Mapping[str, Any]) -> None:
        self.source, self.prefix, self.data = source, prefix, data

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, name: str, message: str) -> ConfigError:
        return ConfigError(self.source, self.key(name), message)

    def _get(self, name: str, default: Any, kind: type | tuple[type, ...], label: str) -> Any:
        if name not in self.data:
            if default is REQUIRED:
                raise self.error(name, "brak wymaganej opcji")
            return default
        value = self.data[name]
        # bool is an int in Python; a port written as `true` is still wrong.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self.error(name, f"oczekiwano: {label}, jest: {value!r}")
        return value

    def text(self, name: str, default: Any = None) -> Any:
        value = self._get(name, default, str, "tekst")
        if default is REQUIRED and not value.strip():
            raise self.error(name, "nie może być puste")
        return value

    def integer(self, name: str, default: Any, low: float, high: float) -> int:
        value = cast(int, self._get(name, default, int, "liczba całkowita"))
        if not low <= value <= high:
            raise self.error(name, f"poza zakresem {low}..{high}: {value}")
        return value

    def number(self, name: str, default: Any, low: float, high: float) -> float:
        value = float(self._get(name, default, (int, float), "liczba"))
        if not low <= value <= high:
            raise self.error(name, f"poza zakresem {low}..{high}: {value}")
        return value

    def flag(self, name: str, default: Any) -> bool:
        return cast(bool, self._get(name, default, bool, "true albo false"))

    def choice(self, name: str, default: Any, allowed: tuple[T, ...]) -> T:
        value = self.text(name, default)
        if value not in allowed:
            raise self.error(name, f"dozwolone: {', '.join(map(str, allowed))}; jest: {value!r}")
        return cast(T, value)

    def table(self, name: str, required: bool = True) -> _Table:
        value = self.data.get(name, None if required else {})
        if not isinstance(value, dict):
            raise self.error(
                name, "brak wymaganej sekcji" if value is None else "oczekiwano sekcji"
            )
        return _Table(self.source, self.key(name), value)

    def sections(self, pattern: re.Pattern[str], rule: str) -> Iterator[tuple[str, _Table]]:
        """Each section of this table, by an identifier that must follow `pattern`."""
        for name in self.data:
            if not pattern.match(name):
                raise self.error(name, f"identyfikator: {rule}")
            yield name, self.table(name)

    def section(self, kind: type[T], *, other_keys: Iterable[str] = (), **given: Any) -> T:
        """The settings `kind` from this table: every field declared with `option` read by
        its type and checked against its bounds, `given` (computed by the caller) as they
        are; any key that is neither an option nor in `other_keys` is refused."""
        hints = get_type_hints(kind)
        declared = fields(cast(Any, kind))
        options = {f.name: f.metadata["option"] for f in declared if "option" in f.metadata}
        self.unknown_keys(set(options) | set(other_keys))
        values = {
            name: self.value(name, hints[name], spec)
            for name, spec in options.items()
            if name not in given
        }
        return kind(**values, **given)

    def value(self, name: str, kind: object, spec: Option) -> Any:
        """One option, by the type of its field."""
        if kind is bool:
            return self.flag(name, spec.default)
        if kind is int:
            return self.integer(name, spec.default, spec.low, spec.high)
        if kind is float:
            return self.number(name, spec.default, spec.low, spec.high)
        if kind == Security:
            return self.choice(name, spec.default, _SECURITY)
        if kind == str | None:  # an empty text means "none"
            return (self.text(name, spec.default) or "").strip() or None
        return self.text(name, spec.default)

    def unknown_keys(self, known: set[str]) -> None:
        """A misspelt option must not be silently ignored."""
        for name in self.data:
            if name not in known:
                raise self.error(name, "nieznana opcja")


_DATABASE_HELP = (
    "obsługiwane są SQLite (sqlite:///ścieżka/do/pliku.sqlite3) i PostgreSQL "
    "(postgresql+psycopg://użytkownik@host/baza)"
)


def _database_url(url: str, error: Callable[[str], ConfigError]) -> str:
    """The URL as given, if this program can open it; otherwise one line that says how
    to write it (SQLAlchemy no longer reads the Heroku-style postgres:// spelling)."""
    if not url.strip():
        return ""
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        raise error(f"nieczytelny adres bazy danych; {_DATABASE_HELP}") from None
    shown = parsed.render_as_string(hide_password=True)
    backend = parsed.drivername.split("+")[0]
    if backend == "postgres":  # the Heroku spelling, which SQLAlchemy dropped in 1.4
        raise error(
            f"adres „{shown}”: dla PostgreSQL napisz postgresql+psycopg://… zamiast postgres://…"
        )
    try:
        driver = parsed.get_driver_name()
    except (ArgumentError, NoSuchModuleError):
        driver = ""
    if (backend, driver) in {("sqlite", "pysqlite"), ("postgresql", "psycopg")}:
        return url.strip()
    raise error(f"nieobsługiwana baza danych „{shown}”; {_DATABASE_HELP}")


def _opening_hours(table: _Table) -> OpeningHours:
    hours = table.table("hours")
    hours.unknown_keys(set(WEEKDAYS))
    weekly: dict[int, tuple[time, time]] = {}
    for index, name in enumerate(WEEKDAYS):
        text = hours.text(name, "")
        if not text.strip():
            continue
        match = _HOURS_RE.match(text.strip())
        try:
            if match is None:
                raise ValueError
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            opens, closes = time(h1, m1), time(h2, m2)
        except ValueError:
            raise hours.error(
                name, f'oczekiwano godzin jak "10:00-16:00", jest: {text!r}'
            ) from None
        if opens >= closes:
            raise hours.error(name, f"godzina otwarcia nie jest przed zamknięciem: {text!r}")
        weekly[index] = (opens, closes)
    closures: set[date] = set()
    for item in table._get("closures", [], list, "lista dat"):
        try:
            closures.add(date.fromisoformat(str(item)))
        except ValueError:
            raise table.error("closures", f"to nie jest data RRRR-MM-DD: {item!r}") from None
    return OpeningHours(weekly=weekly, closures=frozenset(closures))


def _env_error(variable: str, message: str) -> ConfigError:
    return ConfigError("zmienna środowiskowa", variable, message)


def _secret(env: Mapping[str, str], variable: str) -> Secret | None:
    value = env.get(variable)
    return Secret(value) if value else None


def imap_password_variable(branch_id: str) -> str:
    """The environment variable that holds a branch mailbox's password."""
    return f"EMPIKGO_IMAP_PASSWORD_{branch_id.upper().replace('-', '_')}"


def oauth_refresh_variable(link: str) -> str:
    """The environment variable with a Google mailbox's refresh token (per link)."""
    return f"EMPIKGO_OAUTH2_REFRESH_TOKEN_{link.upper().replace('-', '_')}"


def _oauth(
    root: _Table, link: _Table, link_id: str, env: Mapping[str, str]
) -> OAuthSettings | None:
    """`auth = "oauth2"` in a link's section, with the library's `[oauth2]` application."""
    auth = link.text("auth", "password")
    if auth not in ("password", "oauth2"):
        raise link.error("auth", f'dozwolone: "password" albo "oauth2"; jest: {auth!r}')
    if auth == "password":
        return None
    app = root.table("oauth2", required=False)
    if not app.data:
        raise link.error("auth", "oauth2 wymaga sekcji [oauth2] (provider, client_id ...)")
    app.unknown_keys({"provider", "client_id", "tenant", "authority", "token_url"})
    provider = app.choice("provider", REQUIRED, _PROVIDERS)
    secret = env.get("EMPIKGO_OAUTH2_CLIENT_SECRET")
    if not secret:
        raise _env_error(
            "EMPIKGO_OAUTH2_CLIENT_SECRET",
            f'brak sekretu aplikacji OAuth2 (auth = "oauth2" w [{link.prefix}]): ustaw tę '
            "zmienną w środowisku albo w pliku .env",
        )
    tenant = app.text("tenant", "")
    authority = app.text("authority", "") or (
        f"https://login.microsoftonline.com/{tenant}" if tenant else ""
    )
    if provider == "microsoft" and not authority:
        raise app.error("tenant", "Microsoft 365 wymaga tenant (np. biblioteka.onmicrosoft.com)")
    refresh = _secret(env, oauth_refresh_variable(link_id))
    if provider == "google" and refresh is None:
        raise _env_error(
            oauth_refresh_variable(link_id),
            f"brak tokenu odświeżania Google dla [{link.prefix}]: ustaw tę zmienną "
            "w środowisku albo w pliku .env",
        )
    return OAuthSettings(
        provider=provider,
        client_id=app.text("client_id", REQUIRED),
        client_secret=Secret(secret),
        authority=authority,
        token_url=app.text("token_url", GOOGLE_TOKEN_URL),
        refresh_token=refresh,
        link=link_id,
    )


def _imap(root: _Table, table: _Table, branch_id: str, env: Mapping[str, str]) -> ImapSettings:
    imap = table.table("imap")
    security = imap.choice("security", "ssl", _SECURITY)
    return imap.section(
        ImapSettings,
        other_keys={"port", "auth"},
        oauth=_oauth(root, imap, branch_id, env),
        port=imap.integer("port", 993 if security == "ssl" else 143, 1, 65535),
        security=security,
        password=_secret(env, imap_password_variable(branch_id)),
        branch=branch_id,
    )


def _branches(root: _Table, env: Mapping[str, str]) -> dict[str, BranchSettings]:
    branches_table = root.table("branches")
    if not branches_table.data:
        raise root.error("branches", "potrzebna jest co najmniej jedna placówka")
    branches: dict[str, BranchSettings] = {}
    for branch_id, table in branches_table.sections(_BRANCH_ID_RE, _BRANCH_ID_RULE):
        table.unknown_keys({"name", "address", "mailbox", "hours", "closures", "imap"})
        mailbox = table.text("mailbox", REQUIRED)
        if "@" not in mailbox:
            raise table.error("mailbox", f"to nie jest adres e-mail: {mailbox!r}")
        branches[branch_id] = BranchSettings(
            id=branch_id,
            name=table.text("name", REQUIRED),
            address=table.text("address", ""),
            mailbox=mailbox,
            hours=_opening_hours(table),
            imap=_imap(root, table, branch_id, env),
        )
    return branches


def _daily_rate(table: _Table) -> int:
    value = table._get("daily_rate", None, (str, int, float), 'kwota, np. "0,30"')
    if value is None:
        return DEFAULT_DAILY_RATE_GROSZE
    try:
        grosze = parse_pln(str(value))
    except InvalidAmount:
        raise table.error("daily_rate", f'oczekiwano kwoty jak "0,30", jest: {value!r}') from None
    if not 0 <= grosze <= 10_000:
        raise table.error("daily_rate", f"poza zakresem 0,00..100,00 zł: {value!r}")
    return grosze


def _locations(root: _Table, branches: Mapping[str, BranchSettings]) -> dict[str, Location]:
    table = root.table("locations", required=False)
    locations: dict[str, Location] = {}
    for location_id, section in table.sections(_BRANCH_ID_RE, _BRANCH_ID_RULE):
        section.unknown_keys({"name", "daily_rate", "accepts_transfers", "renewal_days", "branch"})
        locations[location_id] = Location(
            id=location_id,
            name=section.text("name", REQUIRED),
            daily_rate_grosze=_daily_rate(section),
            accepts_transfers=section.flag("accepts_transfers", False),
            renewal_days=section.integer("renewal_days", 30, 1, 365),
            branch_id=_desk_branch(section, location_id, branches),
        )
    return locations


def _desk_branch(
    section: _Table, location_id: str, branches: Mapping[str, BranchSettings]
) -> str | None:
    """The branch whose librarians take this location's payments: `branch`, or the
    branch of the same id; none (heads and admins only) when neither is given, so a
    librarian never takes money for a library she does not work at."""
    default = location_id if location_id in branches else ""
    branch_id = section.text("branch", default).strip()
    if branch_id and branch_id not in branches:
        known = ", ".join(branches)
        raise section.error("branch", f"nie ma takiej placówki: {branch_id!r} (są: {known})")
    return branch_id or None


def _trusted_proxies(web: _Table) -> tuple[str, ...]:
    """Each address or network as given, once checked: a typo must not trust nobody (or
    everybody) silently."""
    proxies = web._get("trusted_proxies", [], list, 'lista adresów, np. ["127.0.0.1"]')
    for item in proxies:
        try:
            ipaddress.ip_network(str(item), strict=False)
        except ValueError:
            raise web.error(
                "trusted_proxies", f"to nie jest adres IP ani sieć (np. 10.0.0.0/8): {item!r}"
            ) from None
    return tuple(str(item) for item in proxies)


def _platforms(root: _Table) -> dict[Platform, PlatformSettings]:
    """One section per platform the library offers; a platform without one is not offered.
    Empik Go and Legimi come from the domain's table; any other id defines a platform."""
    table = root.table("platforms", required=False)
    platforms: dict[Platform, PlatformSettings] = {}
    for platform_id, section in table.sections(PLATFORM_ID, f"{_BRANCH_ID_RULE} (do 16)"):
        platform = BUILT_IN.get(platform_id)
        if platform is None:
            section.unknown_keys({"enabled", "activation_url", "name", "pool", "claims_open"})
            platform = _new_platform(platform_id, section)
        else:
            section.unknown_keys({"enabled", "activation_url"})
        url = section.text("activation_url", REQUIRED)
        if not url.startswith(("https://", "http://")):
            raise section.error("activation_url", f"to nie jest adres strony: {url!r}")
        platforms[platform] = PlatformSettings(platform, section.flag("enabled", True), url)
    return platforms


def _new_platform(platform_id: str, section: _Table) -> Platform:
    """A platform the domain does not know, given at the desk from its own pool."""
    pool = section.text("pool", REQUIRED)
    if pool not in PoolScope.__members__.values():
        raise section.error("pool", f"oczekiwano {PoolScope.BRANCH} albo {PoolScope.LIBRARY}")
    try:
        opens = ClaimsOpen.parse(section.text("claims_open", "first-day 00:00"))
    except ValueError as exc:
        raise section.error("claims_open", str(exc)) from None
    return Platform(platform_id, section.text("name", REQUIRED), PoolScope(pool), opens)


def _smtp(root: _Table, env: Mapping[str, str]) -> SmtpSettings:
    smtp = root.table("smtp")
    security = smtp.choice("security", "starttls", _SECURITY)
    return smtp.section(
        SmtpSettings,
        other_keys={"port", "auth"},
        oauth=_oauth(root, smtp, "smtp", env),
        port=smtp.integer("port", {"ssl": 465, "starttls": 587, "none": 25}[security], 1, 65535),
        security=security,
        password=_secret(env, "EMPIKGO_SMTP_PASSWORD"),
    )


def _mail(root: _Table) -> MailSettings:
    mail = root.table("mail", required=False)
    folders = mail.table("folders", required=False).section(MailFolders)
    separator = mail.choice("return_path_separator", "", ("", "+", "-", "_", ".", "="))
    return mail.section(
        MailSettings,
        other_keys={"folders", "return_path_separator"},
        folders=folders,
        return_path_separator=separator,
    )


def _jobs(root: _Table, data_dir: Path, path: Path) -> JobSettings:
    jobs = root.table("jobs", required=False)
    text = jobs.text("month_close_at", "00:05")
    try:
        at = time.fromisoformat(text)
    except ValueError:
        raise jobs.error("month_close_at", f"to nie jest godzina GG:MM: {text!r}") from None
    drop = jobs.text("drop_dir", "")
    return jobs.section(
        JobSettings,
        other_keys={"drop_dir", "month_close_at"},
        drop_dir=(path.parent / drop).resolve() if drop else data_dir / "drop",
        month_close_at=at,
    )


def _import_columns(root: _Table) -> ImportColumns:
    section = root.table("import_columns", required=False)
    section.unknown_keys({"patrons", "loans"})

    def names(kind: str, fields: tuple[str, ...]) -> dict[str, str]:
        table = section.table(kind, required=False)
        mapping: dict[str, str] = {}
        for header in table.data:
            target = table.text(header)
            if target not in fields:
                raise table.error(
                    header, f"nieznane pole {target!r}; dozwolone: {', '.join(fields)}"
                )
            mapping[header] = target
        return mapping

    return ImportColumns(patrons=names("patrons", PATRON_FIELDS), loans=names("loans", LOAN_FIELDS))


DOTENV = ".env"  # read from the working directory, not the configuration file's


def read_environment(dotenv_path: Path | None = None) -> dict[str, str]:
    """The process environment over `.env` (the real environment wins)."""
    path = dotenv_path if dotenv_path is not None else Path(DOTENV)
    values = (
        {k: v for k, v in dotenv_values(path).items() if v is not None} if path.is_file() else {}
    )
    values.update(os.environ)
    return values


def config_path(explicit: str | None, env: Mapping[str, str]) -> Path:
    return Path(explicit or env.get("EMPIKGO_CONFIG") or DEFAULT_CONFIG)


def load_settings(path: Path, env: Mapping[str, str]) -> Settings:
    """Read and check the whole file; raise ConfigError with one line on the first problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, "", "nie ma takiego pliku konfiguracji") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "", f"nie można odczytać pliku: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"błąd składni TOML: {exc}") from None

    root = _Table(path, "", raw)
    root.unknown_keys(
        {
            "timezone",
            "data_dir",
            "templates_dir",
            "database",
            "rules",
            "platforms",
            "smtp",
            "mail",
            "branches",
            "web",
            "jobs",
            "locations",
            "import_columns",
            "oauth2",
        }
    )
    zone_name = root.text("timezone", "Europe/Warsaw")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise root.error("timezone", f"nieznana strefa czasowa: {zone_name!r}") from None

    # A container (or a systemd unit) names the data volume itself, whatever the file says.
    data_dir = Path(env["EMPIKGO_DATA_DIR"]) if env.get("EMPIKGO_DATA_DIR") else None
    data_dir = data_dir or (path.parent / root.text("data_dir", "data")).resolve()
    # The texts ship with the package; a library's own directory only overrides some.
    override = root.text("templates_dir", "")
    templates_dir = (path.parent / override).resolve() if override else None
    if templates_dir is not None and not templates_dir.is_dir():
        raise root.error("templates_dir", f"nie ma takiego katalogu: {templates_dir}")
    database = root.table("database", required=False)
    database.unknown_keys({"url", "busy_timeout_seconds"})
    if env.get("EMPIKGO_DATABASE_URL"):
        url = _database_url(
            env["EMPIKGO_DATABASE_URL"],
            lambda m: _env_error("EMPIKGO_DATABASE_URL", m),
        )
    else:
        url = _database_url(database.text("url", ""), lambda m: database.error("url", m))
    url = url or f"sqlite:///{data_dir / 'empikgo.sqlite3'}"

    rules = root.table("rules", required=False)
    rules.unknown_keys({"contact_max_age_months", "require_sender_match"})
    policy = Policy(
        contact_max_age_months=rules.integer("contact_max_age_months", 12, 1, 120),
        require_sender_match=rules.flag("require_sender_match", True),
    )
    branches = _branches(root, env)
    smtp = _smtp(root, env)
    if not smtp.helo_name and branches:
        first = next(iter(branches.values()))
        smtp = replace(smtp, helo_name=first.mailbox.rpartition("@")[2])
    web = root.table("web", required=False)
    return Settings(
        source=path,
        timezone=zone,
        data_dir=data_dir,
        templates_dir=templates_dir,
        database_url=url,
        database_busy_timeout=database.number("busy_timeout_seconds", 15.0, 0.1, 600.0),
        branches=branches,
        platforms=_platforms(root),
        policy=policy,
        smtp=smtp,
        mail=_mail(root),
        web=web.section(
            WebSettings,
            other_keys={"trusted_proxies"},
            trusted_proxies=_trusted_proxies(web),
            api_token=_secret(env, "EMPIKGO_API_TOKEN"),
            metrics_token=_secret(env, "EMPIKGO_METRICS_TOKEN"),
        ),
        jobs=_jobs(root, data_dir, path),
        locations=_locations(root, branches),
        import_columns=_import_columns(root),
    )
