"""Safe by default: where the server may listen, who may use it, and the headers and checks that
keep a browser from being turned against it.

- **Exposure**: a loopback address needs nothing; any other address needs credentials from
  the environment, or the server refuses to start (`check_exposure`). A listener on a LAN with
  no password is how review tools end up answering the whole office, or the Internet.
- **Credentials** (`Credentials.from_env`): `MONITOR_WEB_TOKEN` (sent as `Authorization:
  Bearer`, for scrapers and scripts), and/or `MONITOR_WEB_USER` with
  `MONITOR_WEB_PASSWORD_HASH` (HTTP Basic, for browsers; the hash from `monitor web
  --hash-password`, PBKDF2-SHA256, so the environment never holds the password itself).
- **CSRF**: every state change (any method but GET/HEAD) must carry the token of the
  `monitor_csrf` cookie, in the `X-CSRF-Token` header or the `csrf_token` form field (a
  double-submit token: a page of another site can make the browser send the cookie, never read
  it), and an `Origin`, when sent, must be this server's. A bearer token is not ambient (a
  browser never adds it by itself), so a request carrying it needs no CSRF token.
- **Headers**: a strict Content-Security-Policy (scripts only from this server, no inline
  script or style, no eval, no framing), `nosniff`, no referrer.

Pure functions, plus the ASGI middleware that applies them at the edge.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.errors import ConfigError

ENV_TOKEN = "MONITOR_WEB_TOKEN"
ENV_USER = "MONITOR_WEB_USER"
ENV_PASSWORD_HASH = "MONITOR_WEB_PASSWORD_HASH"
CSRF_COOKIE = "monitor_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths an orchestrator or a load balancer asks without credentials: a verdict, nothing else.
OPEN_PATHS = ("/healthz", "/readyz")
HASH_SCHEME = "pbkdf2_sha256"
HASH_ITERATIONS = 310_000  # OWASP's figure for PBKDF2-HMAC-SHA256

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-src 'self'; frame-ancestors 'none'; object-src 'none'"
)
# A digest's e-mail HTML, shown in a sandboxed frame of the digest page: its own inline styles,
# no script at all, framed by this server only.
FRAMED_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox"
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


@dataclass(frozen=True, slots=True)
class Listen:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def parse_listen(value: str) -> Listen:
    """`HOST:PORT` or `[v6]:PORT` (validated by the settings already)."""
    host, _, port = value.rpartition(":")
    return Listen(host.strip("[]"), int(port))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


@dataclass(frozen=True, slots=True)
class Credentials:
    token: str | None = None
    user: str | None = None
    password_hash: str | None = None
    _accepted: set[tuple[str, str]] = field(default_factory=set, compare=False)  # (user, password digest) seen good

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials:
        """Read and check the credentials; ConfigError when they are set but unusable."""
        token = env.get(ENV_TOKEN) or None
        user, hashed = env.get(ENV_USER) or None, env.get(ENV_PASSWORD_HASH) or None
        if token is not None and len(token) < 16:
            raise ConfigError(ENV_TOKEN, "too short: use at least 16 characters (e.g. openssl rand -hex 24)")
        if (user is None) != (hashed is None):
            raise ConfigError(ENV_USER, f"set both {ENV_USER} and {ENV_PASSWORD_HASH}, or neither")
        if hashed is not None and _parse_hash(hashed) is None:
            raise ConfigError(ENV_PASSWORD_HASH, "not a hash from `monitor web --hash-password`")
        return cls(token, user, hashed)

    @property
    def configured(self) -> bool:
        return self.token is not None or self.user is not None

    def allows(self, authorization: str | None) -> bool:
        """Whether an `Authorization` header carries these credentials."""
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and self.token is not None:
            return hmac.compare_digest(value.strip().encode(), self.token.encode())
        if scheme.lower() == "basic" and self.user is not None and self.password_hash is not None:
            user, password = _basic(value)
            if user is None or password is None or not hmac.compare_digest(user.encode(), self.user.encode()):
                return False
            # PBKDF2 costs a fraction of a second on purpose: a password once found good is
            # remembered (as a digest) so that each request of a page does not pay it again.
            key = (user, hashlib.sha256(password.encode()).hexdigest())
            if key in self._accepted:
                return True
            if verify_password(password, self.password_hash):
                self._accepted.add(key)
                return True
        return False

    def is_bearer(self, authorization: str | None) -> bool:
        return self.token is not None and (authorization or "").lower().startswith("bearer ")


def check_exposure(listen: Listen, credentials: Credentials) -> None:
    """Refuse (ConfigError) to listen beyond loopback without credentials."""
    if not listen.loopback and not credentials.configured:
        raise ConfigError(
            "[web] listen",
            f"{listen.host}:{listen.port} is not a loopback address and no credentials are set: set "
            f"{ENV_TOKEN}, or {ENV_USER} and {ENV_PASSWORD_HASH} (monitor web --hash-password), "
            "or listen on 127.0.0.1",
        )


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = HASH_ITERATIONS) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{HASH_SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, hashed: str) -> bool:
    parsed = _parse_hash(hashed)
    if parsed is None:
        return False
    iterations, salt, expected = parsed
    return hmac.compare_digest(hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations), expected)


def _parse_hash(hashed: str) -> tuple[int, bytes, bytes] | None:
    parts = hashed.split("$")
    if len(parts) != 4 or parts[0] != HASH_SCHEME or not parts[1].isdigit():
        return None
    try:
        return int(parts[1]), base64.b64decode(parts[2], validate=True), base64.b64decode(parts[3], validate=True)
    except (binascii.Error, ValueError):
        return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _basic(value: str) -> tuple[str | None, str | None]:
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return (user, password) if sep else (None, None)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(cookie: str | None, sent: str | None) -> bool:
    """The double-submit check: the token sent matches the cookie's, and both exist."""
    return bool(cookie) and bool(sent) and hmac.compare_digest(str(cookie).encode(), str(sent).encode())


def origin_ok(origin: str | None, host: str | None) -> bool:
    """A cross-site request names another origin; a missing Origin (old clients, curl) passes
    to the token check, which such a request cannot pass from a page of another site."""
    if not origin:
        return True
    return urlsplit(origin).netloc == (host or "")


class GuardMiddleware:
    """At the edge of every request: credentials (when configured), the CSRF cookie, the
    security headers. The CSRF comparison itself is made where the form is read (`app.guarded`),
    since only the handler may consume the body."""

    def __init__(self, app: ASGIApp, credentials: Credentials) -> None:
        self.app = app
        self.credentials = credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path: str = scope["path"]
        cookie = _cookie(headers.get("cookie"), CSRF_COOKIE)
        token = cookie or new_csrf_token()
        scope.setdefault("state", {})["csrf_token"] = token

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                names = {name.lower() for name, _ in raw}
                if b"content-security-policy" not in names:
                    raw.append((b"content-security-policy", CSP.encode()))
                raw += [h for h in SECURITY_HEADERS if h[0] not in names]
                if cookie is None:
                    raw.append((b"set-cookie", _csrf_cookie(token).encode()))
                message = {**message, "headers": raw}
            await send(message)

        if (
            self.credentials.configured
            and not path.startswith(OPEN_PATHS)
            and not self.credentials.allows(headers.get("authorization"))
        ):
            await _unauthorised(send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


def _csrf_cookie(token: str) -> str:
    return f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"


def _cookie(header: str | None, name: str) -> str | None:
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


async def _unauthorised(send: Send) -> None:
    body = b"authentication required\n"
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Basic realm="monitor", charset="UTF-8"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
