"""Access tokens for SASL XOAUTH2 (IMAP and SMTP), as Microsoft 365 and Google Workspace
require instead of passwords.

* Microsoft 365: the library's app registration with client credentials (msal), scope
  `https://outlook.office365.com/.default`; msal caches the token and asks for a new one
  before it expires.
* Google Workspace: the mailbox's refresh token exchanged at the token endpoint; the
  access token is kept until `RENEW_BEFORE_SECONDS` before it expires.

One cache per link settings and process, shared by every connection and thread. Tokens
and secrets are never logged: errors name the provider and the HTTP status only."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from empikgo_mailer.config import OAuthSettings
from empikgo_mailer.domain.errors import Unreachable

MICROSOFT_SCOPE = "https://outlook.office365.com/.default"
RENEW_BEFORE_SECONDS = 300.0
TIMEOUT_SECONDS = 30.0


class TokenUnavailable(Unreachable):
    """No access token could be had; the message names the provider, never a secret."""


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
            raise TokenUnavailable(f"Google token endpoint: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise TokenUnavailable(f"Google token endpoint: {type(exc).__name__}") from None
        token = body.get("access_token")
        if not isinstance(token, str):
            raise TokenUnavailable("Google token endpoint: no access_token in the answer")
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
            raise TokenUnavailable(f"Microsoft identity platform: {type(exc).__name__}") from None
        token = result.get("access_token")
        if not isinstance(token, str):
            error = result.get("error", "no access_token")
            raise TokenUnavailable(f"Microsoft identity platform: {error}")
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
