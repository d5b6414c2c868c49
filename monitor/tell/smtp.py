"""Send a message by SMTP: implicit TLS, STARTTLS or a plain connection, with an optional login.

The password comes from the environment variable the settings name (never from a file); it
is never logged, and never part of an error: every failure becomes one `DeliveryError` line
saying where and what, with the password (and its base64 forms) struck out should a server
echo it back.
"""

from __future__ import annotations

import base64
import logging
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Protocol

from monitor.errors import DeliveryError
from monitor.settings import EmailSettings

log = logging.getLogger(__name__)


class Mailer(Protocol):
    """Sends one message to its recipients; raises DeliveryError when it could not."""

    def send(self, message: EmailMessage) -> list[str]:
        """Send; return the recipients the server refused (when it accepted the others)."""
        ...


class SmtpMailer:
    def __init__(
        self, settings: EmailSettings, password: str | None, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        if not settings.host:
            raise DeliveryError("e-mail is not configured: set [email] host, sender and recipients in monitor.toml")
        self.settings = settings
        self._password = password or None
        self._context = ssl_context

    @classmethod
    def from_environment(
        cls, settings: EmailSettings, env: Mapping[str, str], *, ssl_context: ssl.SSLContext | None = None
    ) -> SmtpMailer:
        return cls(settings, env.get(settings.password_env), ssl_context=ssl_context)

    def __repr__(self) -> str:
        return f"SmtpMailer({self.where}, security={self.settings.security}, user={self.settings.username!r})"

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.smtp_port}"

    def send(self, message: EmailMessage) -> list[str]:
        s = self.settings
        if s.username and not self._password:
            raise DeliveryError(
                f"SMTP {self.where}: login as {s.username!r} needs a password in the environment variable "
                f"{s.password_env}, which is not set"
            )
        try:
            with self._connect() as smtp:
                if s.username and self._password:
                    smtp.login(s.username, self._password)
                refused = smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as e:
            raise self._error(f"authentication refused for {s.username!r}", e) from e
        except smtplib.SMTPNotSupportedError as e:
            raise self._error(f"the server does not offer what the settings ask: {e}", None) from e
        except smtplib.SMTPRecipientsRefused as e:
            raise self._error(f"every recipient refused ({', '.join(sorted(e.recipients))})", None) from e
        except smtplib.SMTPResponseException as e:
            raise self._error("the server refused the message", e) from e
        except smtplib.SMTPException as e:
            raise self._error(f"SMTP error: {e}", None) from e
        except ssl.SSLError as e:
            raise self._error(f"TLS failed: {e.reason or e}", None) from e
        except OSError as e:
            raise self._error(f"connection failed: {type(e).__name__}: {e.strerror or e}", None) from e
        if refused:
            log.warning("event=email_partly_refused recipients=%s", ",".join(sorted(refused)))
        return sorted(refused)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        assert s.host is not None
        context = self._context or ssl.create_default_context()
        if s.security == "tls":
            return smtplib.SMTP_SSL(s.host, s.smtp_port, timeout=s.timeout, context=context)
        smtp = smtplib.SMTP(s.host, s.smtp_port, timeout=s.timeout)
        try:
            if s.security == "starttls":
                smtp.ehlo()
                smtp.starttls(context=context)
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _error(self, what: str, e: smtplib.SMTPResponseException | None) -> DeliveryError:
        reply = ""
        if e is not None:
            text = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
            reply = f" ({e.smtp_code} {text.strip()})"
        return DeliveryError(self._redact(f"SMTP {self.where}: {what}{reply}"))

    def _redact(self, text: str) -> str:
        if not self._password:
            return text
        secret = self._password.encode()
        user = (self.settings.username or "").encode()
        forms = {
            self._password,
            base64.b64encode(secret).decode(),
            base64.b64encode(b"\0" + user + b"\0" + secret).decode(),
        }
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, "***")
        return text
