"""The Apprise channel: one message to one Apprise URL. Secrets are written in the config as
`${VAR}` and read from the environment only here, at the moment of sending; they never appear in
an error, a log line or the ledger (what Apprise says about a failure is scrubbed of them).

Apprise's own retries are left off (its default; `retry=` in a URL is refused at load): the
monitor retries from its ledger, with backoff, so that a retry is recorded and never doubles a
message that went through."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from monitor.errors import DeliveryError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
APPRISE_LOGGER = "apprise"


class Channel(Protocol):
    """Sends one message to one URL (as written in the config); raises DeliveryError."""

    def send(self, url: str, title: str, body: str, attach: Path | None = None) -> None: ...


def url_scheme(url: str) -> str:
    """The scheme alone: what may be shown of a URL (its host, path or query may hold a token)."""
    return url.split("://", 1)[0].lower()


def missing_variables(url: str, env: Mapping[str, str]) -> list[str]:
    """The `${VAR}` names of `url` that the environment lacks (or holds empty)."""
    return [name for name in _ENV_REF.findall(url) if not env.get(name)]


def resolve_url(url: str, env: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    """The URL with each `${VAR}` replaced by its value (quoted, so that a password with `@` or
    `:` keeps the URL's shape), and the secrets it now holds, to scrub from any text shown."""
    secrets: list[str] = []

    def value(m: re.Match[str]) -> str:
        raw = env.get(m[1], "")
        quoted = quote(raw, safe="/")
        secrets.extend(s for s in (raw, quoted) if s)
        return quoted

    return _ENV_REF.sub(value, url), tuple(secrets)


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret replaced by `***` (longest first, so that no part of one is left)."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


@cache
def apprise_schemes() -> frozenset[str]:
    """Every scheme this Apprise serves (Apprise is loaded on first use: a second to import)."""
    import apprise

    schemes: set[str] = set()
    for schema in apprise.Apprise().details()["schemas"]:
        for key in ("protocols", "secure_protocols"):
            found = schema.get(key) or ()
            schemes.update([found] if isinstance(found, str) else found)
    return frozenset(s.lower() for s in schemes)


def apprise_url_problem(url: str) -> str | None:
    """Why Apprise would not take `url`, or None; only its scheme is checked before the
    variables are known."""
    scheme = url_scheme(url)
    if scheme not in apprise_schemes():
        return f"Apprise has no service {scheme}:// (see https://appriseit.com/services/)"
    return None


@contextmanager
def _quiet_apprise() -> Iterator[None]:
    """Apprise logs failures on its own logger; they are captured and scrubbed by the caller,
    not passed on to the monitor's log as they are."""
    logger = logging.getLogger(APPRISE_LOGGER)
    before = logger.propagate
    logger.propagate = False
    try:
        yield
    finally:
        logger.propagate = before


@dataclass(frozen=True)
class AppriseChannel:
    """Sends through Apprise, resolving `${VAR}` from `env` for each message."""

    env: Mapping[str, str]

    def send(self, url: str, title: str, body: str, attach: Path | None = None) -> None:
        import apprise

        label = f"{url_scheme(url)}://"
        if missing := missing_variables(url, self.env):
            raise DeliveryError(f"{label}: environment variable {', '.join(missing)} is not set")
        resolved, secrets = resolve_url(url, self.env)
        sender = apprise.Apprise()
        with _quiet_apprise(), apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:  # type: ignore[no-untyped-call]
            if not sender.add(resolved):
                raise DeliveryError(f"{label}: Apprise does not take this URL (check it against the service's page)")
            files = [str(attach)] if attach is not None and attach.is_file() else None
            ok = bool(sender.notify(body=body, title=title, attach=files))
        if not ok:
            said = [line for line in captured.getvalue().splitlines() if line.strip()]
            reason = said[-1] if said else "Apprise reported a failure"
            raise DeliveryError(f"{label}: {redact(reason, secrets)}")
