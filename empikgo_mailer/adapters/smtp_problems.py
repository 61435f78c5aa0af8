"""Why a connection to the SMTP server failed, as `server_problems` tells it for IMAP: one
Polish line naming host:port and the setting or variable to check, and one English line
for the log. aiosmtplib wraps the socket's error (refused, DNS, TLS) in SMTPConnectError;
the cause is what says which it was."""

from __future__ import annotations

import aiosmtplib

from empikgo_mailer.adapters.oauth2 import TokenUnavailable
from empikgo_mailer.adapters.server_problems import Problem, network_problem
from empikgo_mailer.config import SmtpSettings

SMTP_PASSWORD_VARIABLE = "EMPIKGO_SMTP_PASSWORD"  # noqa: S105 (a name, not a secret)
_TLS_HINT = "465 to zwykle ssl, 587 starttls"


def missing_password(s: SmtpSettings) -> Problem | None:
    """A user name to log in with and nothing to log in by: the sender would skip the
    login and the server refuse every reply."""
    if s.username and s.password is None and s.oauth is None:
        return Problem(
            f"w [smtp] jest username „{s.username}”, ale brak hasła: ustaw zmienną "
            f"{SMTP_PASSWORD_VARIABLE} (w środowisku albo w pliku .env)",
            f"no SMTP password ({SMTP_PASSWORD_VARIABLE} is not set)",
        )
    return None


def smtp_problem(exc: BaseException, s: SmtpSettings) -> Problem:
    """What `SmtpSender.check` (connect, EHLO, STARTTLS, login) raised, in our words."""
    at = f"{s.host}:{s.port}"
    cause = exc.__cause__
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        cause = TimeoutError()
    network = network_problem(
        cause if isinstance(exc, aiosmtplib.SMTPConnectError) and cause is not None else exc,
        server="serwer SMTP",
        host=s.host,
        port=s.port,
        timeout=s.timeout_seconds,
        settings="[smtp]",
        tls_hint=_TLS_HINT,
    )
    if network is not None:
        return network
    if isinstance(exc, TokenUnavailable):
        return Problem(str(exc), f"no OAuth2 token: {exc.log_text}")
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        said = f"{exc.code} {exc.message}".strip()
        secret = (
            "aplikację w [oauth2], EMPIKGO_OAUTH2_CLIENT_SECRET i jej dostęp do skrzynki"
            if s.oauth is not None
            else f"hasło w {SMTP_PASSWORD_VARIABLE}"
        )
        return Problem(
            f"serwer SMTP {at} odrzucił logowanie użytkownika {s.username} ({said}): sprawdź "
            f"{secret} i username w [smtp]",
            f"SMTP login of {s.username} refused ({said})",
        )
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return Problem(
            f"serwer SMTP {at} zerwał połączenie: sprawdź security i port w [smtp] ({_TLS_HINT})",
            f"connection to {at} closed by the server",
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        said = f"{exc.code} {exc.message}".strip()
        return Problem(
            f"serwer SMTP {at} odpowiedział błędem ({said}): sprawdź [smtp] (host, port, "
            "security, username, helo_name)",
            f"{at} answered {said}",
        )
    text = str(exc)
    if "STARTTLS" in text:
        return Problem(
            f'serwer SMTP {at} nie oferuje STARTTLS: ustaw security = "ssl" z portem 465 '
            f"albo sprawdź port w [smtp] ({_TLS_HINT})",
            f"{at} offers no STARTTLS",
        )
    if "AUTH" in text:
        return Problem(
            f"serwer SMTP {at} nie oferuje logowania (AUTH) na tym połączeniu: sprawdź "
            f"security i port w [smtp] ({_TLS_HINT}); bez logowania usuń username",
            f"{at} offers no AUTH on this connection",
        )
    return Problem(
        f"nieoczekiwany błąd połączenia z serwerem SMTP {at} ({type(exc).__name__}): "
        "sprawdź [smtp] i log programu",
        f"SMTP check of {at} failed ({type(exc).__name__}: {text.splitlines()[0] if text else ''})",
    )
