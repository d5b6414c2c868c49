"""Notifications through Apprise, end to end on loopback: real receivers of `json://`, `form://`
and `ntfy://` posts (tests/receivers.py) and the SMTP server of the e-mail tests behind a
`mailto://` URL. A digest and an alert arrive once on each; a receiver that fails twice gets the
message once, on the third try; a process killed between the send and its record sends it again
once, marked as a possible repeat; a secret named as ${VAR} is never shown."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from monitor.cli import main
from monitor.config import load_config
from monitor.pipeline.notify import notify_pass
from monitor.records import Decision, ItemIntent, Planned
from monitor.storage import SqlRepository, open_database
from monitor.tell.channel import AppriseChannel
from tests.conftest import FeedServer, Workspace
from tests.receivers import Inbox, receiver
from tests.tell.test_digest_email import Mailroom, free_port, smtp_server

CONTRA = "Beijing summoned Nvidia over H20 security risks, contradicting the claim that the chip was welcomed."
UPDATE = "The Commerce Department revised the H20 licence terms on Monday."
TOKEN = "s3cr3t-token-9f8e7d"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with receiver() as found:
        yield found


@pytest.fixture
def mailroom() -> Iterator[tuple[Mailroom, int]]:
    port = free_port()
    with smtp_server(port, Mailroom()) as room:
        yield room, port


def urls(port: int, smtp: int | None = None) -> list[str]:
    found = [f"json://127.0.0.1:{port}/json", f"form://127.0.0.1:{port}/form", f"ntfy://127.0.0.1:{port}/alerts"]
    if smtp is not None:
        found.append(f"mailto://127.0.0.1:{smtp}?from=monitor@example.org&to=analyst@example.org&mode=insecure")
    return found


def notify_toml(*targets: dict[str, object]) -> str:
    blocks = ['[poll]\narticle = "never"\n']
    for t in targets:
        lines = ["[[notify]]"]
        for key, value in t.items():
            if isinstance(value, list):
                lines.append(f"{key} = [" + ", ".join(f'"{v}"' for v in value) + "]")
            elif isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, int):
                lines.append(f"{key} = {value}")
            else:
                lines.append(f'{key} = "{value}"')
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def repository(workspace: Workspace) -> SqlRepository:
    return SqlRepository(open_database(f"sqlite:///{workspace.database}"))


def flag(repo: SqlRepository, guid: str, claim: str, relation: str, evidence: str, at: datetime) -> None:
    """An item of the `wire` source and the judge's flag on it, as a poll cycle would store them."""
    intent = ItemIntent(
        source_id="wire",
        guid=guid,
        url=f"https://news.example.org/{guid}",
        canonical_url=f"https://news.example.org/{guid}",
        title=f"Report {guid}: Nvidia H20 and export controls",
        summary=evidence,
        lang="en",
        published_at=at,
        fetched_at=at,
        date_note=None,
        content_hash=guid.ljust(64, "0"),
        relevant=True,
        relevant_why="test",
    )
    with repo.session() as session, session.begin():
        [item_id] = repo.insert_items(session, [Planned(intent)])
    repo.save_matches([(item_id, [Decision(claim, relation, 0.9, evidence, "test")])], at)


@pytest.fixture
def news(workspace: Workspace, feeds: FeedServer) -> Workspace:
    workspace.ship_claims()
    workspace.sources({"id": "wire", "name": "Wire", "url": feeds.put("/wire.xml", "<rss/>"), "kind": "feed"})
    workspace.write("monitor.toml", notify_toml())
    assert main(["sources"]) == 0  # the store, with its sources
    return workspace


@pytest.mark.sqlite_only
def test_a_digest_and_an_alert_arrive_once_on_every_channel(
    news: Workspace, inbox: tuple[Inbox, int], mailroom: tuple[Mailroom, int], capsys: pytest.CaptureFixture[str]
) -> None:
    box, port = inbox
    room, smtp = mailroom
    news.write("monitor.toml", notify_toml({"id": "team", "urls": urls(port, smtp), "receives": ["digest", "alert"]}))
    now = datetime.now(UTC) - timedelta(minutes=1)
    repo = repository(news)
    flag(repo, "a1", "C23", "contradicts", CONTRA, now)
    flag(repo, "a2", "C05", "supports", "Nvidia said sales resumed.", now)  # no change of standing: no alert

    assert main(["notify", "send"]) == 0
    for path in ("/json", "/form", "/alerts"):
        [alert] = box.accepted(path)
        assert alert.title.startswith("C23 contradicts: Report a1"), alert.title
        assert "Claim C23 is now contested" in alert.message and CONTRA in alert.message
        assert "https://news.example.org/a1" in alert.message
    [mail] = room.messages
    assert str(mail["Subject"]).startswith("C23 contradicts") and CONTRA in mail.get_body(("plain",)).get_content()

    # a second contradiction of the same claim is no change; its first update is one
    flag(repo, "a3", "C23", "contradicts", CONTRA + " Again.", now + timedelta(seconds=1))
    flag(repo, "a4", "C23", "updates", UPDATE, now + timedelta(seconds=2))
    assert main(["notify", "send"]) == 0
    for path in ("/json", "/form", "/alerts"):
        assert [p.title.split(":")[0] for p in box.accepted(path)] == ["C23 contradicts", "C23 updates"]
    assert len(room.messages) == 2

    assert main(["digest", "--send"]) == 0
    out = capsys.readouterr().out
    assert out.count("notify: sent digest:") == 4
    for path in ("/json", "/form", "/alerts"):
        assert len(box.accepted(path)) == 3
    digest_json = box.accepted("/json")[-1].fields()
    assert "claim change" in digest_json["message"] and "C23 contradicts, updates" in digest_json["message"]
    [attachment] = digest_json["attachments"]
    assert attachment["filename"].endswith(".md") and attachment["mimetype"] in ("text/markdown", "text/x-markdown")
    assert len(room.messages) == 3 and room.messages[-1].get_content_type() == "multipart/mixed"

    # again and again: nothing more
    assert main(["digest", "--send"]) == 0
    assert main(["notify", "send"]) == 0
    assert [len(box.accepted(p)) for p in ("/json", "/form", "/alerts")] == [3, 3, 3]
    assert len(box.posts) == 9 and len(room.messages) == 3
    capsys.readouterr()
    assert main(["notify", "--json"]) == 0
    ledger = json.loads(capsys.readouterr().out)
    assert len(ledger) == 12 and {r["status"] for r in ledger} == {"sent"}
    assert all(r["attempts"] == 1 and r["interrupted"] == 0 for r in ledger)


@pytest.mark.sqlite_only
def test_a_receiver_that_fails_twice_gets_the_message_once_with_backoff(
    news: Workspace, inbox: tuple[Inbox, int], capsys: pytest.CaptureFixture[str]
) -> None:
    box, port = inbox
    box.fail["/json"] = 2
    news.write("monitor.toml", notify_toml({"id": "hook", "urls": urls(port)[:1], "receives": ["alert"], "retry": 60}))
    config = load_config(news.config, env={}, cwd=news.root)
    repo = repository(news)
    t0 = datetime.now(UTC)
    flag(repo, "b1", "C23", "contradicts", CONTRA, t0)
    channel = AppriseChannel({})

    first = notify_pass(config, repo, channel, t0)
    assert first.added == 1 and len(first.failed) == 1 and "500" in (first.failed[0].last_error or "")
    assert len(box.posts) == 1  # Apprise did not retry on its own
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["notifications"]
    assert shown["counts"] == {"failed": 1} and "500" in shown["unsent"][0]["last_error"]
    assert main(["status"]) == 0
    assert "notifications: 1 failed" in capsys.readouterr().out
    assert not notify_pass(config, repo, channel, t0 + timedelta(seconds=59)).failed  # not due yet
    assert len(box.posts) == 1
    second = notify_pass(config, repo, channel, t0 + timedelta(seconds=60))
    assert len(second.failed) == 1 and second.failed[0].next_attempt_at == t0 + timedelta(seconds=180)  # 60, then 120
    assert not notify_pass(config, repo, channel, t0 + timedelta(seconds=179)).sent
    third = notify_pass(config, repo, channel, t0 + timedelta(seconds=180))
    [sent] = third.sent
    assert sent.attempts == 3 and sent.status == "sent"
    for later in (181, 3600, 86400):
        assert not notify_pass(config, repo, channel, t0 + timedelta(seconds=later)).sent
    assert [p.accepted for p in box.posts] == [False, False, True]
    assert len({p.body for p in box.posts}) == 1  # the same message each time


@pytest.mark.sqlite_only
def test_kill_9_between_send_and_record_resends_once_and_says_so(
    news: Workspace, inbox: tuple[Inbox, int], capsys: pytest.CaptureFixture[str]
) -> None:
    box, port = inbox
    news.write("monitor.toml", notify_toml({"id": "hook", "urls": urls(port)[:1], "receives": ["alert"]}))
    flag(repository(news), "k1", "C23", "contradicts", CONTRA, datetime.now(UTC))
    box.hold["/json"] = threading.Event()  # the receiver has the message but has not answered
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    child = subprocess.Popen(
        [sys.executable, "-m", "monitor", "notify", "send"], cwd=news.root, env=env, stdout=subprocess.DEVNULL
    )
    try:
        assert box.arrived.wait(60), "the first send never arrived"
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        box.hold.pop("/json").set()
    [cut] = repository(news).notifications()
    assert cut.status == "sending" and cut.attempts == 1

    assert main(["notify", "send"]) == 0
    assert "(again: an attempt cut short by a crash may have arrived)" in capsys.readouterr().out
    first, again = box.at("/json")
    assert again.title == "[repeat] " + first.title
    assert "may repeat an earlier message" in again.message and first.message in again.message
    [done] = repository(news).notifications()
    assert done.status == "sent" and done.attempts == 2 and done.interrupted == 1
    assert main(["notify", "send"]) == 0
    assert len(box.posts) == 2  # at most once more
    assert main(["notify"]) == 0
    assert "sent again after 1 crash(es)" in capsys.readouterr().out


@pytest.mark.sqlite_only
def test_a_failing_source_is_reported_after_health_after_and_its_recovery_once(
    news: Workspace, feeds: FeedServer, inbox: tuple[Inbox, int]
) -> None:
    box, port = inbox
    news.write("monitor.toml", notify_toml({"id": "ops", "urls": urls(port)[:1], "receives": ["health"]}))
    feeds.put("/wire.xml", "<html>not a feed</html>", content_type="text/html")
    config = load_config(news.config, env={}, cwd=news.root)
    assert main(["run", "--once"]) == 1  # the only source fails
    repo = repository(news)
    [state] = repo.source_states()
    assert state.consecutive_errors == 1 and state.failing_since is not None
    since = state.failing_since
    channel = AppriseChannel({})
    assert not notify_pass(config, repo, channel, since + timedelta(hours=5)).sent  # health_after: 6 h
    [down] = notify_pass(config, repo, channel, since + timedelta(hours=6, seconds=1)).sent
    assert down.key.startswith("health:wire:down:") and "Wire" in down.title
    assert "has failed for 6.0 h" in box.posts[0].fields()["message"]
    assert main(["run", "--once"]) == 1
    assert repo.source_states()[0].failing_since == since  # the first error after the last success
    assert not notify_pass(config, repo, channel, since + timedelta(hours=7)).sent  # told once

    feeds.put("/wire.xml", '<?xml version="1.0"?><rss version="2.0"><channel><title>W</title></channel></rss>')
    assert main(["run", "--once"]) == 0  # and its notification pass tells of the recovery at once
    assert repo.source_states()[0].failing_since is None
    up = repo.notifications()[0]
    assert up.status == "sent" and up.key == down.key.replace(":down:", ":up:")
    assert box.posts[-1].fields()["title"] == "Source recovered: Wire" and "works again" in box.posts[-1].message
    assert not notify_pass(config, repo, channel, datetime.now(UTC) + timedelta(days=1)).sent
    assert len(box.posts) == 2


@pytest.mark.sqlite_only
def test_a_secret_in_a_variable_reaches_the_receiver_and_is_never_shown(
    news: Workspace, inbox: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    box, port = inbox
    url = f"json://monitor:${{HOOK_TOKEN}}@127.0.0.1:{port}/json"
    news.write("monitor.toml", notify_toml({"id": "hook", "urls": [url], "receives": ["alert"]}))
    flag(repository(news), "s1", "C23", "contradicts", CONTRA, datetime.now(UTC))
    monkeypatch.delenv("HOOK_TOKEN", raising=False)
    assert main(["notify", "send"]) == 1
    err = capsys.readouterr().err
    assert "environment variable HOOK_TOKEN is not set" in err and box.posts == []

    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    box.fail["/json"] = 1
    assert main(["--log-level", "debug", "notify", "send"]) == 0  # not due yet: retried after a minute
    shown = capsys.readouterr()
    assert box.posts == []
    repo = repository(news)
    config = load_config(news.config, env={}, cwd=news.root)
    later = datetime.now(UTC) + timedelta(minutes=5)
    failed = notify_pass(config, repo, AppriseChannel({"HOOK_TOKEN": TOKEN}), later)
    assert len(failed.failed) == 1 and len(box.posts) == 1
    done = notify_pass(config, repo, AppriseChannel({"HOOK_TOKEN": TOKEN}), later + timedelta(hours=1))
    assert len(done.sent) == 1
    assert box.posts[-1].headers["Authorization"] == "Basic " + base64.b64encode(f"monitor:{TOKEN}".encode()).decode()
    assert main(["--log-level", "debug", "notify", "--json"]) == 0
    listed = capsys.readouterr()
    for said in (shown.out, shown.err, listed.out, listed.err, str(failed.failed[0])):
        assert TOKEN not in said


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("target", "message", "key"),
    [
        ({"id": "x", "urls": ["json://127.0.0.1/x"], "receives": ["digest"], "colour": "red"}, "unknown key", "colour"),
        ({"id": "x", "urls": ["json://127.0.0.1/x"], "receives": ["sms"]}, "Input should be", "receives"),
        ({"id": "x", "urls": ["json://127.0.0.1/x"]}, "required key is missing", "receives"),
        ({"id": "x", "urls": ["mailto://me:hunter2@mail.example.org"], "receives": ["alert"]}, "password", "urls"),
        ({"id": "x", "urls": ["nosuch://host/x"], "receives": ["alert"]}, "Apprise has no service nosuch://", "urls"),
        ({"id": "x", "urls": ["json://127.0.0.1/x?retry=3"], "receives": ["alert"]}, "retries", "urls"),
        ({"id": "x", "urls": ["slack://${bad name}"], "receives": ["alert"]}, "not an environment variable", "urls"),
        ({"id": "X Y", "urls": ["json://127.0.0.1/x"], "receives": ["alert"]}, "should match pattern", "id"),
        ({"id": "x", "urls": ["hooks.slack.com/services/T0/B0/SECRETX"], "receives": ["alert"]}, "scheme", "urls"),
    ],
)
def test_a_bad_notify_table_is_one_line_with_file_line_entry_and_key(
    workspace: Workspace, target: dict[str, object], message: str, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace.sources({"id": "wire", "url": "http://127.0.0.1:9/feed.xml", "kind": "feed"})
    text = notify_toml({"id": "ok", "urls": ["json://127.0.0.1/ok"], "receives": ["health"]}, target)
    workspace.write("monitor.toml", text)
    assert main(["sources"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("config error: config/monitor.toml:") and message in err and key in err, err
    line = int(err.split("monitor.toml:")[1].split(":")[0])
    assert line > text.split("\n").index("[[notify]]", 5)  # in the second table, not the first
    assert "hunter2" not in err and "SECRETX" not in err
    assert not (workspace.root / "storage" / "monitor.db").exists()


def test_duplicate_target_ids_are_refused(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    workspace.sources({"id": "wire", "url": "http://127.0.0.1:9/feed.xml", "kind": "feed"})
    same = {"id": "ops", "urls": ["json://127.0.0.1/ok"], "receives": ["health"]}
    path = workspace.write("monitor.toml", notify_toml(same, same))
    assert main(["sources"]) == 2
    second = [n for n, text in enumerate(path.read_text().splitlines(), 1) if text.startswith("id = ")][1]
    assert f"config/monitor.toml:{second}: [ops] id: duplicate id" in capsys.readouterr().err


@pytest.mark.sqlite_only
def test_without_notify_tables_nothing_is_loaded_or_sent(news: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notify", "send"]) == 0
    assert main(["notify"]) == 0
    assert "[[notify]] is not configured" in capsys.readouterr().out
    assert Path(news.root / "storage" / "monitor.db").exists()


@pytest.mark.slow
def test_the_service_tells_source_health_and_digests_once(workspace: Workspace, inbox: tuple[Inbox, int]) -> None:
    from tests.servicekit import SETTINGS, Route, Serve, Site, count

    box, port = inbox
    site = Site()
    serve = Serve(workspace)
    try:
        workspace.write(
            "monitor.toml",
            SETTINGS.format(digest_cron="*/3 * * * * *", stop_timeout=5)
            + notify_toml(
                {"id": "ops", "urls": urls(port)[:1], "receives": ["digest", "health"], "health_after": 1}
            ).split("\n", 2)[2],  # the [[notify]] table alone
        )
        site.routes["/down.xml"] = Route(status=500, body=b"down")
        workspace.sources(
            {"id": "wire", "url": site.feed("/wire.xml", 3), "kind": "feed", "interval": 30},
            {"id": "flaky", "name": "Flaky", "url": site.url("/down.xml"), "kind": "feed"},
        )
        serve.start()
        titles = lambda: [p.fields()["title"] for p in box.posts]  # noqa: E731
        serve.wait_for("the failing source told", lambda: "Source failing: Flaky" in titles(), timeout=60)
        serve.wait_for("a digest told", lambda: any(t.startswith("AI-chip") for t in titles()), timeout=60)
        site.feed("/down.xml", 1)
        serve.wait_for("its recovery told", lambda: "Source recovered: Flaky" in titles(), timeout=60)
        time.sleep(3.5)  # a digest period more, and ticks: nothing is told twice
        assert serve.stop() == 0
    finally:
        site.close()
    said = titles()
    assert said.count("Source failing: Flaky") == 1 and said.count("Source recovered: Flaky") == 1
    assert not [t for t in said if t.startswith("[repeat]")], said
    digests = [p for p in box.posts if p.fields()["title"].startswith("AI-chip")]
    bodies = [p.message for p in digests]
    assert len(bodies) == len(set(bodies)), bodies  # each digest once (their items differ)
    assert digests and all(p.fields()["attachments"][0]["filename"].endswith(".md") for p in digests)
    told = count(workspace, "SELECT count(DISTINCT key) FROM notification WHERE kind = 'digest' AND status = 'sent'")
    assert told == len(digests)
    assert "event=notify_sent" in serve.output()


@pytest.mark.sqlite_only
def test_notify_test_sends_to_each_url_of_a_target_and_records_nothing(
    news: Workspace, inbox: tuple[Inbox, int], capsys: pytest.CaptureFixture[str]
) -> None:
    box, port = inbox
    news.write("monitor.toml", notify_toml({"id": "hook", "urls": urls(port)[:2], "receives": ["alert"]}))
    assert main(["notify", "test", "hook"]) == 0
    assert [(p.path, p.title) for p in box.posts] == [
        ("/json", "claim-monitor: test"),
        ("/form", "claim-monitor: test"),
    ]
    assert capsys.readouterr().out.count("): sent") == 2
    assert repository(news).notifications() == []
    assert main(["notify", "test", "nobody"]) == 2
    assert "no enabled [[notify]] target 'nobody'" in capsys.readouterr().err
    box.fail["/json"] = 1
    assert main(["notify", "test", "hook"]) == 1
    assert "json://: " in capsys.readouterr().err


@pytest.mark.sqlite_only
def test_a_repeat_that_fails_keeps_its_mark_until_it_is_sent(news: Workspace, inbox: tuple[Inbox, int]) -> None:
    """The `sending` row a crash left, as `test_kill_9_…` leaves it; its resend fails once."""
    box, port = inbox
    news.write("monitor.toml", notify_toml({"id": "hook", "urls": urls(port)[:1], "receives": ["alert"]}))
    config = load_config(news.config, env={}, cwd=news.root)
    repo = repository(news)
    t0 = datetime.now(UTC)
    flag(repo, "r1", "C23", "contradicts", CONTRA, t0)
    notify_pass(config, repo, AppriseChannel({}), t0)
    [row] = repo.notifications()
    with repo.session() as session, session.begin():  # as if killed between the send and its record
        session.execute(text("UPDATE notification SET status = 'sending', sent_at = NULL WHERE id = :i"), {"i": row.id})
    box.fail["/json"] = 1
    failed = notify_pass(config, repo, AppriseChannel({}), t0 + timedelta(seconds=1))
    assert len(failed.failed) == 1 and failed.failed[0].interrupted == 1
    later = notify_pass(config, repo, AppriseChannel({}), t0 + timedelta(minutes=5))
    assert len(later.repeated) == 1
    assert [(p.title.startswith("[repeat] "), p.accepted) for p in box.posts] == [
        (False, True),
        (True, False),
        (True, True),
    ]
