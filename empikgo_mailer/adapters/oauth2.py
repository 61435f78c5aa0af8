"""Access tokens for SASL XOAUTH2 (IMAP and SMTP), as Microsoft 365 and Google Workspace
require instead of passwords.

* Microsoft 365: the library's app registration with client credentials (msal), scope
  `https://outlook.office365.com/.default`; msal caches the token and asks for a new one
  before it expires.
* Google Workspace: the mailbox's refresh token exchanged at the token endpoint; the
  access token is kept until `RENEW_BEFORE_SECONDS` before it expires.

One cache per link settings and process, shared by every connection and thread. Tokens
and secrets are never logged: errors name the provider, the HTTP status and the OAuth2
error code (`invalid_grant` ...) only, and say in Polish which setting to check."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from empikgo_mailer.adapters.server_problems import network_reason
from empikgo_mailer.config import OAuthSettings, oauth_refresh_variable
from empikgo_mailer.domain.errors import Unreachable

MICROSOFT_SCOPE = "https://outlook.office365.com/.default"
RENEW_BEFORE_SECONDS = 300.0
TIMEOUT_SECONDS = 30.0


class TokenUnavailable(Unreachable):
    """No access token could be had; the message names the provider, never a secret.
    Its text is Polish (for `doctor` and `status`), `log_text` English (for the log)."""

    def __init__(self, message: str, log_text: str) -> None:
        super().__init__(message)
        self.log_text = log_text


_GOOGLE = "serwer tokenów Google"
_MICROSOFT = "platforma tożsamości Microsoft"


def _oauth_error(answer: urllib.error.HTTPError) -> str:
    """The OAuth2 error code of a refused request ("invalid_grant"), never its secrets."""
    try:
        error = json.loads(answer.read()).get("error")
    except (ValueError, OSError, AttributeError):
        return ""
    return error if isinstance(error, str) and error.isidentifier() else ""


def _refresh_variable(settings: OAuthSettings) -> str:
    return (
        oauth_refresh_variable(settings.link) if settings.link else "EMPIKGO_OAUTH2_REFRESH_TOKEN_…"
    )


@dataclass
class _Cached:
    token: str
    expires_at: float  # time.monotonic()


class _GoogleRefresh:
    def __init__(self, settings: OAuthSettings) -> None:
        self.settings = settings
        self.cached: _Cached | None = None

    def token(self) -> str:
        cached = self.cached
        if cached is not None and time.monotonic() < cached.expires_at - RENEW_BEFORE_SECONDS:
            return cached.token
        s = self.settings
        assert s.refresh_token is not None
        form = urllib.parse.urlencode(
            {
                "grant_type": "refresh_token",
                "client_id": s.client_id,
                "client_secret": s.client_secret.value,
                "refresh_token": s.refresh_token.value,
            }
        ).encode()
        request = urllib.request.Request(s.token_url, data=form, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
                body: dict[str, Any] = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            code = _oauth_error(exc)
            said = f"HTTP {exc.code}" + (f", {code}" if code else "")
            raise TokenUnavailable(
                f"{_GOOGLE} odmówił tokenu ({said}): sprawdź token odświeżania "
                f"w {_refresh_variable(s)}, client_id w [oauth2] i EMPIKGO_OAUTH2_CLIENT_SECRET",
                f"Google token endpoint refused ({said})",
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise TokenUnavailable(
                f"{_GOOGLE} nieosiągalny ({network_reason(reason, TIMEOUT_SECONDS)}): sprawdź "
                "sieć i token_url w [oauth2]",
                f"Google token endpoint unreachable ({type(reason).__name__})",
            ) from None
        token = body.get("access_token")
        if not isinstance(token, str):
            raise TokenUnavailable(
                f"{_GOOGLE} nie dał tokenu dostępu: sprawdź token_url w [oauth2]",
                "Google token endpoint: no access_token in the answer",
            )
        lifetime = float(body.get("expires_in", 3600))
        self.cached = _Cached(token, time.monotonic() + lifetime)
        return token


class _MicrosoftClientCredentials:
    def __init__(self, settings: OAuthSettings) -> None:
        import msal  # noqa: PLC0415 (only libraries on Microsoft 365 load it)

        self.client = msal.ConfidentialClientApplication(
            settings.client_id,
            client_credential=settings.client_secret.value,
            authority=settings.authority,
            # Our authority is named in the configuration; no lookup at Microsoft's
            # instance discovery (which also lets a test point it at a local server).
            instance_discovery=False,
            timeout=TIMEOUT_SECONDS,
        )

    def token(self) -> str:
        try:
            # Served from msal's cache until shortly before it expires.
            result: dict[str, Any] = self.client.acquire_token_for_client(scopes=[MICROSOFT_SCOPE])
        except Exception as exc:  # msal raises requests' and its own errors
            raise TokenUnavailable(
                f"{_MICROSOFT} nieosiągalna ({network_reason(exc, TIMEOUT_SECONDS)}): sprawdź "
                "sieć oraz tenant (albo authority) w [oauth2]",
                f"Microsoft identity platform unreachable ({type(exc).__name__})",
            ) from None
        token = result.get("access_token")
        if not isinstance(token, str):
            error = str(result.get("error") or "brak access_token")
            raise TokenUnavailable(
                f"{_MICROSOFT} odmówiła tokenu ({error}): sprawdź client_id i tenant w [oauth2] "
                "oraz EMPIKGO_OAUTH2_CLIENT_SECRET",
                f"Microsoft identity platform refused a token ({error})",
            )
        return token


_sources: dict[OAuthSettings, _GoogleRefresh | _MicrosoftClientCredentials] = {}
_lock = threading.Lock()


def access_token(settings: OAuthSettings) -> str:
    with _lock:
        source = _sources.get(settings)
        if source is None:
            source = (
                _MicrosoftClientCredentials(settings)
                if settings.provider == "microsoft"
                else _GoogleRefresh(settings)
            )
            _sources[settings] = source
        return source.token()
