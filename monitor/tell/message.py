"""The digest as an e-mail message: multipart/alternative, a plain-text and an HTML part,
UTF-8 throughout, headers per RFC 5322 (a non-ASCII subject is encoded per RFC 2047).

Pure: the caller gives the time; the Message-ID is derived from the digest's period and the
sender, so a retried send carries the same id and a mail system can tell it is one message.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from monitor.tell.render import RenderedEmail


def message_id(sender: str, start: datetime, end: datetime) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    token = uuid.uuid5(uuid.NAMESPACE_URL, f"claim-monitor:digest:{start.isoformat()}/{end.isoformat()}:{sender}")
    return f"<digest.{token.hex}@{domain}>"


def compose_message(
    rendered: RenderedEmail,
    *,
    sender: str,
    recipients: Sequence[str],
    date: datetime,
    start: datetime,
    end: datetime,
) -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP)
    msg["Subject"] = rendered.subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id(sender, start, end)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    msg.set_content(rendered.text, subtype="plain", charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return msg
