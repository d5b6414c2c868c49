"""The digest by e-mail, end to end on loopback: a real SMTP server (aiosmtpd) on 127.0.0.1
receives what `monitor digest --send` sends; the test parses the message as a mail client
would. Sent once per period; a failure (server down, login refused) leaves the digest unsent
with a clear error and no password in it, and the next run sends it once."""

from __future__ import annotations

import email
import functools
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import feedparser
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from markdown_it import MarkdownIt

from monitor.cli import main
from monitor.config import load_config
from monitor.pipeline.digest import DIGEST_LOCK, run_digest
from monitor.records import Decision, ItemIntent, Planned
from monitor.storage import SqlRepository, open_database
from monitor.storage.lock import DbLock, LockOwner
from monitor.tell.smtp import SmtpMailer
from tests.conftest import FeedServer, Workspace
from tests.tell.test_digest import HOSTILE, assert_inert

RESUME = (
    "US lets Nvidia resume H20 chip sales to China",
    "The Commerce Department granted Nvidia export licences for the H20 chip, the company said on Tuesday.",
)
SUMMONS = (
    "網信辦約談輝達 要求說明H20晶片後門安全風險",
    "國家互聯網信息辦公室約談輝達公司，要求其說明H20晶片漏洞後門安全風險問題。",
)
SPORT = ("Local club wins the regional football cup", "The match went to penalties after extra time.")
PASSWORD = "correct-horse-battery-staple-42"
TITLE = "芯片出口管制日报"
PREFIX = "[监测]"
RECIPIENTS = ["analyst@example.org", "张三 <zhang@example.org>"]


def feed(*entries: tuple[str, str], prefix: str = "a") -> str:
    items = "".join(
        f"<item><title>{t}</title><link>http://HOST/{prefix}/{n}</link><guid>{prefix}-{n}</guid>"
        f"<description>{d}</description><pubDate>Tue, 15 Jul 2025 0{n}:00:00 GMT</pubDate></item>"
        for n, (t, d) in enumerate(entries)
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>W</title>{items}</channel></rss>'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailroom:
    """What the SMTP server received, and whether it accepts a login."""

    accept_login: bool = True
    messages: list[EmailMessage] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        data = envelope.original_content or envelope.content
        self.raw.append(data)
        parsed = email.message_from_bytes(data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            self.logins.append((data.login.decode(), data.password.decode()))
            ok = self.accept_login and data.password.decode() == PASSWORD
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)


@contextmanager
def smtp_server(port: int, room: Mailroom, **options: Any) -> Iterator[Mailroom]:
    controller = Controller(
        room,
        hostname="127.0.0.1",
        port=port,
        authenticator=room.authenticate,
        auth_require_tls=options.pop("auth_require_tls", False),
        **options,
    )
    controller.start()
    try:
        yield room
    finally:
        controller.stop()


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def room(port: int) -> Iterator[Mailroom]:
    with smtp_server(port, Mailroom()) as mailroom:
        yield mailroom


def settings(port: int, **email_keys: Any) -> str:
    keys: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": "Monitor <monitor@example.org>",
        "recipients": RECIPIENTS,
        "subject_prefix": PREFIX,
        **email_keys,
    }
    lines = [f"{k} = {_toml(v)}" for k, v in keys.items() if v is not None]
    return '[poll]\narticle = "never"\n\n[digest]\ntitle = "' + TITLE + '"\n\n[email]\n' + "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value) + '"'


@pytest.fixture
def news(feeds: FeedServer, workspace: Workspace, port: int) -> Workspace:
    """A workspace whose store holds flagged items (one in traditional Chinese) and an off-topic one."""
    workspace.ship_claims()
    workspace.write("monitor.toml", settings(port))
    workspace.sources(
        {"id": "wire", "name": "Wire", "url": feeds.put("/wire.xml", feed(RESUME, SUMMONS, SPORT)), "kind": "feed"},
        {
            "id": "reprint",
            "name": "Reprint Daily",
            "url": feeds.put("/r.xml", feed(RESUME, prefix="r")),
            "kind": "feed",
        },
    )
    assert main(["run", "--once"]) == 0
    return workspace


@functools.cache
def repository(workspace: Workspace) -> SqlRepository:
    """One engine per workspace, kept (a dropped engine's PostgreSQL connections would be
    closed by the garbage collector, with a ResourceWarning); the workspace closes them."""
    return SqlRepository(open_database(workspace.database_url))


def digest_files(workspace: Workspace) -> list[Path]:
    return sorted((workspace.root / "storage" / "digests").glob("*.md"))


def parts(msg: EmailMessage) -> tuple[str, str]:
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_send_delivers_one_email_with_claim_changes_first_then_never_again(
    news: Workspace, room: Mailroom, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["digest", "--send"]) == 0
    out = capsys.readouterr().out
    assert "e-mail: sent to analyst@example.org, 张三 <zhang@example.org>" in out
    [msg] = room.messages
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in msg.iter_parts())
    headers = room.raw[0].split(b"\r\n\r\n", 1)[0]
    assert headers.isascii() and b"Subject: =?utf-8?" in headers  # RFC 2047
    assert str(msg["Subject"]).startswith(f"{PREFIX} {TITLE} · ") and "claim change" in str(msg["Subject"])
    assert msg["Date"] and msg["Message-ID"] and msg["From"] == "Monitor <monitor@example.org>"
    assert [a.addr_spec for a in msg["To"].addresses] == ["analyst@example.org", "zhang@example.org"]
    assert room.envelopes == [("monitor@example.org", ["analyst@example.org", "zhang@example.org"])]
    text, html = parts(msg)
    for body in (text, html):
        assert SUMMONS[0] in body and RESUME[0] in body and "football" not in body
        assert "美国政府已批准出口许可" in body  # the claim in Chinese, from the registry
    assert text.index("CLAIM CHANGES") < text.index("TOP STORIES")
    assert html.index("Claim changes") < html.index("Top stories")
    assert_inert(html)
    [markdown] = digest_files(news)
    written = markdown.read_text(encoding="utf-8")
    assert written.index("## Claim changes") < written.index("## Top stories")
    assert "football" not in written
    # one entry per story: the reprint is listed with the Wire's report, not as an entry of its own
    top = written.split("## Top stories", 1)[1]
    assert top.count("US lets Nvidia resume H20 chip sales to China") == 1 and "Reprint Daily" in top

    assert main(["digest", "--send"]) == 0  # the next period: nothing new, nothing sent
    assert "not sent: nothing new" in capsys.readouterr().out
    assert len(room.messages) == 1


def test_the_same_period_is_mailed_once(news: Workspace, room: Mailroom) -> None:
    today = f"{repository(news).list_items()[0].fetched_at:%Y-%m-%d}"  # the day the items came
    assert main(["digest", "--send", "--date", today]) == 0
    assert main(["digest", "--send", "--date", today]) == 0
    config = load_config(news.config, env={}, cwd=news.root)
    now = datetime.now(UTC)
    day = datetime.fromisoformat(today).replace(tzinfo=UTC)
    outcome = run_digest(config, repository(news), now, True, period=(day, day + timedelta(days=1)))
    assert outcome.email.status == "already sent"
    assert len(room.messages) == 1
    assert len(digest_files(news)) == 1  # the same period keeps its file
    deliveries = repository(news).deliveries(outcome.digest_id)
    assert deliveries["email"].status == "sent" and deliveries["email"].attempts == 1
    assert {"file", "email", "atom"} == set(deliveries)


def test_plain_digest_command_writes_files_and_sends_nothing(news: Workspace, room: Mailroom) -> None:
    assert main(["digest"]) == 0
    assert room.messages == []
    assert len(digest_files(news)) == 1
    feed_file = news.root / "storage" / "digests" / "feed.atom"
    parsed = feedparser.parse(feed_file.read_bytes())
    assert not parsed.bozo and parsed.version == "atom10"
    assert any(e.title.startswith("C23 ") for e in parsed.entries)
    assert any(e.title.startswith("Digest ") for e in parsed.entries)


def test_server_down_leaves_the_digest_unsent_and_the_next_run_sends_it_once(
    news: Workspace, port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["digest", "--send"]) == 1  # nothing listens on the port
    captured = capsys.readouterr()
    assert f"SMTP 127.0.0.1:{port}: connection failed: ConnectionRefusedError" in captured.err
    assert "Traceback" not in captured.err
    assert len(digest_files(news)) == 1  # the file is written all the same
    with smtp_server(port, Mailroom()) as room:
        assert main(["digest", "--send"]) == 0
        assert "earlier digest" in capsys.readouterr().out
        assert len(room.messages) == 1 and SUMMONS[0] in parts(room.messages[0])[0]
        assert main(["digest", "--send"]) == 0
        assert len(room.messages) == 1


def test_refused_login_gives_a_clear_error_without_the_password(
    news: Workspace,
    port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    news.write("monitor.toml", settings(port, username="monitor"))
    monkeypatch.setenv("MONITOR_SMTP_PASSWORD", PASSWORD)
    with smtp_server(port, Mailroom(accept_login=False)) as room:
        assert main(["--log-level", "debug", "digest", "--send"]) == 1
        captured = capsys.readouterr()
        assert "authentication refused for 'monitor' (535" in captured.err
        [(_digest, delivery)] = repository(news).undelivered("email")
        assert delivery.status == "failed" and "authentication refused" in (delivery.last_error or "")
        for text in (captured.err, captured.out, caplog.text, delivery.last_error or ""):
            assert PASSWORD not in text
        assert room.messages == [] and room.logins[0] == ("monitor", PASSWORD)
        room.accept_login = True
        assert main(["digest", "--send"]) == 0
        assert main(["digest", "--send"]) == 0
        assert len(room.messages) == 1


def test_a_login_without_its_password_variable_says_which_variable(
    news: Workspace, port: int, room: Mailroom, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    news.write("monitor.toml", settings(port, username="monitor", password_env="SMTP_SECRET"))
    monkeypatch.delenv("SMTP_SECRET", raising=False)
    assert main(["digest", "--send"]) == 1
    assert "needs a password in the environment variable SMTP_SECRET" in capsys.readouterr().err
    assert room.messages == []


def test_a_password_in_the_config_file_is_refused(
    news: Workspace, port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    news.write("monitor.toml", settings(port, username="monitor", password=PASSWORD))
    assert main(["digest", "--send"]) == 2
    err = capsys.readouterr().err
    assert "monitor.toml:" in err and "password is never read from a config file" in err and PASSWORD not in err


def test_send_without_email_settings_is_a_config_error(news: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    news.write("monitor.toml", '[poll]\narticle = "never"\n')
    assert main(["digest", "--send"]) == 2
    assert "email.host" in capsys.readouterr().err


def test_dry_run_prints_the_email_and_writes_nothing(
    news: Workspace, room: Mailroom, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["digest", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would send: yes" in out
    assert "to: analyst@example.org, 张三 <zhang@example.org>" in out
    assert f"subject: {PREFIX} {TITLE}" in out
    assert "CLAIM CHANGES" in out and SUMMONS[0] in out
    assert room.messages == [] and digest_files(news) == []
    assert repository(news).last_digest() is None


def test_an_empty_period_is_mailed_only_with_send_empty(
    news: Workspace, port: int, room: Mailroom, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["digest", "--send", "--date", "2020-01-01"]) == 0
    assert "nothing new" in capsys.readouterr().out and room.messages == []
    news.write("monitor.toml", settings(port, send_empty=True))
    assert main(["digest", "--send", "--date", "2020-01-02"]) == 0
    [msg] = room.messages
    assert "nothing new" in str(msg["Subject"]) and "Nothing new in this period." in parts(msg)[0]


def insert_hostile(workspace: Workspace) -> None:
    repo = repository(workspace)
    now = datetime.now(UTC) - timedelta(minutes=5)
    intent = ItemIntent(
        source_id="wire",
        guid="hostile",
        url="javascript:alert(1)",
        canonical_url=None,
        title=HOSTILE + " Nvidia H20 export controls",
        summary='<a href="javascript:alert(2)">x</a> [y](javascript:alert(3))',
        lang="en",
        published_at=now,
        fetched_at=now,
        date_note=None,
        content_hash="f" * 64,
        relevant=True,
        relevant_why="test",
    )
    with repo.session() as session, session.begin():
        [item_id] = repo.insert_items(session, [Planned(intent)])
    repo.save_matches([(item_id, [Decision("C23", "contradicts", 2.0, HOSTILE, "test")])], now)


def test_hostile_feed_text_is_inert_in_the_email_the_file_and_the_feed(news: Workspace, room: Mailroom) -> None:
    insert_hostile(news)
    assert main(["digest", "--send"]) == 0
    [msg] = room.messages
    text, html = parts(msg)
    seen = assert_inert(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and seen.links
    assert "javascript:" not in text.replace(HOSTILE, "").replace("[y](javascript:alert(3))", "")
    [markdown] = digest_files(news)
    assert_inert(MarkdownIt("commonmark").render(markdown.read_text(encoding="utf-8")))
    atom = feedparser.parse((news.root / "storage" / "digests" / "feed.atom").read_bytes())
    assert not atom.bozo
    for entry in atom.entries:
        assert_inert(entry.content[0].value)
        assert not entry.get("link", "").startswith("javascript")


def _certificate(directory: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_and_starttls_with_login(
    news: Workspace, port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, security: str
) -> None:
    cert, key = _certificate(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    options: dict[str, Any] = (
        {"tls_context": server_context, "require_starttls": True, "auth_require_tls": True}
        if security == "starttls"
        else {"ssl_context": server_context}
    )
    news.write("monitor.toml", settings(port, security=security, username="monitor"))
    config = load_config(news.config, env={}, cwd=news.root)
    mailer = SmtpMailer(config.settings.email, PASSWORD, ssl_context=ssl.create_default_context(cafile=str(cert)))
    with smtp_server(port, Mailroom(), **options) as room:
        outcome = run_digest(config, repository(news), datetime.now(UTC), True, mailer=mailer)
        assert outcome.email.status == "sent", outcome.email.error
        assert room.logins == [("monitor", PASSWORD)] and len(room.messages) == 1
        # an untrusted certificate is a clear failure, recorded, not a crash
        untrusting = SmtpMailer(config.settings.email, PASSWORD, ssl_context=ssl.create_default_context())
        later = datetime.now(UTC) + timedelta(hours=1)
        failed = run_digest(
            config, repository(news), later, True, mailer=untrusting, period=(later - timedelta(days=1), later)
        )
        assert failed.email.status == "failed" and "TLS failed" in (failed.email.error or "")


def test_a_digest_being_sent_elsewhere_is_not_sent_twice(
    news: Workspace, room: Mailroom, capsys: pytest.CaptureFixture[str]
) -> None:
    other = DbLock(repository(news).engine, DIGEST_LOCK, LockOwner("another-process", "elsewhere", 1), ttl=60)
    other.acquire("digest e-mail")
    assert main(["digest", "--send"]) == 1
    assert "another process is sending digests" in capsys.readouterr().err
    assert room.messages == []
    other.release()
    assert main(["digest", "--send"]) == 0
    assert main(["digest", "--send"]) == 0
    assert len(room.messages) == 1
