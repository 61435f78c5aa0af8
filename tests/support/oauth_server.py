"""A small identity provider on loopback for the OAuth2 tests: it issues access tokens
(Google's refresh-token grant, Microsoft's client-credentials grant behind an OpenID
configuration, over HTTPS for msal) and answers Dovecot's token introspection."""

from __future__ import annotations

import json
import secrets
import ssl
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from empikgo_mailer.rehearsal.ports import free_port

CLIENT_ID, CLIENT_SECRET = "library-app", "library-app-secret"


@dataclass
class Issued:
    user: str | None  # None: an application token (client credentials)
    expires_at: float


@dataclass
class IdentityProvider:
    refresh_tokens: dict[str, str]  # refresh token -> mailbox user
    lifetime: float = 3600.0
    tokens: dict[str, Issued] = field(default_factory=dict)
    introspections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = field(default_factory=free_port)
    https: Path | None = None  # a directory for a self-signed certificate (msal needs https)
    _server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        scheme = "https" if self.https else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def certificate(self) -> Path:
        assert self.https is not None
        return self.https / "cert.pem"

    def issue(self, user: str | None) -> dict[str, Any]:
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = Issued(user, time.time() + self.lifetime)
        return {"access_token": token, "token_type": "Bearer", "expires_in": int(self.lifetime)}

    def valid(self, token: str, user: str | None = None) -> bool:
        with self.lock:
            issued = self.tokens.get(token)
        return (
            issued is not None
            and issued.expires_at > time.time()
            and (user is None or issued.user in (None, user))
        )

    def start(self) -> IdentityProvider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _form(self) -> dict[str, str]:
                length = int(self.headers.get("Content-Length", "0"))
                return dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))

            def do_GET(self) -> None:
                if self.path == "/tenant/v2.0/.well-known/openid-configuration":
                    base = f"{provider.base}/tenant"
                    self._answer(
                        200,
                        {
                            "issuer": f"{base}/v2.0",
                            "token_endpoint": f"{base}/oauth2/v2.0/token",
                            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                        },
                    )
                else:
                    self._answer(404, {"error": "not_found"})

            def do_POST(self) -> None:
                form = self._form()
                if self.path == "/introspect":  # Dovecot asks about a token
                    with provider.lock:
                        provider.introspections += 1
                        issued = provider.tokens.get(form.get("token", ""))
                    active = issued is not None and issued.expires_at > time.time()
                    body: dict[str, Any] = {"active": "true" if active else "false"}
                    if active and issued is not None and issued.user:
                        body["username"] = issued.user
                    self._answer(200, body)
                    return
                if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
                    self._answer(401, {"error": "invalid_client"})
                    return
                if self.path == "/google/token" and form.get("grant_type") == "refresh_token":
                    user = provider.refresh_tokens.get(form.get("refresh_token", ""))
                    if user is None:
                        self._answer(400, {"error": "invalid_grant"})
                    else:
                        self._answer(200, provider.issue(user))
                elif self.path == "/tenant/oauth2/v2.0/token":
                    assert form.get("grant_type") == "client_credentials"
                    assert form.get("scope") == "https://outlook.office365.com/.default"
                    self._answer(200, provider.issue(None))
                else:
                    self._answer(404, {"error": "not_found"})

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        if self.https is not None:
            subprocess.run(
                [
                    "openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "1",
                    "-subj",
                    "/CN=127.0.0.1",
                    "-addext",
                    "subjectAltName=IP:127.0.0.1",
                    "-keyout",
                    str(self.https / "key.pem"),
                    "-out",
                    str(self.certificate),
                ],
                check=True,
                capture_output=True,
            )
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.certificate, self.https / "key.pem")
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
