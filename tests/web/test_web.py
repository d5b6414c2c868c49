"""The web side over HTTP on loopback (no browser): the JSON twins, reviews stored as the CLI
stores them, CSRF and origin checks, no state change on GET, escaping, the security headers,
credentials and exposure, item search in both scripts, /readyz against the service lock and
/metrics against a real poll."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.cli import build_cycle, main
from monitor.collect.fetch import HttpxFetcher
from monitor.errors import ConfigError
from monitor.pipeline.metrics import Metrics
from monitor.service import run_cycle
from monitor.storage.lock import SERVICE, DbLock, LockOwner
from monitor.web import security, server
from monitor.web.security import Credentials, Listen, check_exposure
from tests.conftest import FeedServer, Workspace
from tests.websetup import HOSTILE_TITLE, Site, build_site, feed, free_port, serving

DAY = "Sun, 20 Jul 2025 00:00:00 GMT"
TOKEN = "t0ken-for-the-tests-only-0123456789"


@pytest.fixture
def site(feeds: FeedServer, workspace: Workspace) -> Iterator[Site]:
    built = build_site(feeds, workspace)
    with serving(built) as running:
        yield running
    built.engine.dispose()


@contextmanager
def session(site: Site) -> Iterator[httpx.Client]:
    """A client that has loaded a page, so holds the CSRF cookie (`csrf(client)`)."""
    with httpx.Client(base_url=site.base, timeout=30) as client:
        assert client.get("/review").status_code == 200
        yield client


def csrf(client: httpx.Client) -> str:
    return str(client.cookies[security.CSRF_COOKIE])


def test_pages_and_their_json_twins(site: Site) -> None:
    with httpx.Client(base_url=site.base, timeout=30) as client:
        claims = {c["id"]: c for c in client.get("/api/claims").json()}
        assert len(claims) == 24
        assert claims["C01"]["status"] == "contested"
        assert claims["C01"]["counts"] == {"supports": 1, "contradicts": 1, "updates": 0}
        assert claims["C01"]["last_change"] is not None
        c01 = client.get("/api/claims/C01").json()
        assert [f["id"] for f in c01["timeline"]] == [site.supports, site.contradicts]  # oldest item first
        assert c01["timeline"][0]["item"]["title"].startswith("US Commerce Department")
        assert c01["timeline"][0]["evidence"].startswith("The Commerce Department updated")
        assert c01["timeline"][0]["outlets"] == ["wire"]
        queue = client.get("/api/review").json()
        scores = [f["score"] for f in queue]
        assert scores == sorted(scores, reverse=True) and queue[0]["id"] == site.supports
        for path in ("/claims", "/claims/C01", "/review", "/stories", "/items", "/sources", "/digests"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert page.headers["content-type"].startswith("text/html")
            twin = client.get("/api" + path)
            assert twin.status_code == 200 and twin.headers["content-type"] == "application/json", path
        sources = client.get("/api/sources").json()
        assert sources[0]["id"] == "wire" and sources[0]["state"] == "ok" and sources[0]["last_success_at"]
        assert client.get("/claims/C99").status_code == 404
        assert client.get("/api/claims/C99").status_code == 404


def test_a_review_is_stored_as_the_cli_stores_it(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    with session(site) as client:
        done = client.post(
            f"/api/flags/{site.contradicts}/review",
            json={"action": "dismiss", "note": "a denial, not news"},
            headers={"X-CSRF-Token": csrf(client)},
        )
        assert done.status_code == 200 and done.json()["state"] == "dismissed"
        form = {"action": "confirm", "note": "", "csrf_token": csrf(client)}
        page = client.post(f"/flags/{site.supports}/review", data=form, headers={"HX-Request": "true"})
        assert page.status_code == 200 and 'class="flag reviewed"' in page.text
        assert client.get("/api/claims/C01").json()["status"] == "supported"
    capsys.readouterr()
    assert main(["flags", "--json", "--claim", "C01"]) == 0
    flags = {f["id"]: f for f in json.loads(capsys.readouterr().out)}
    assert flags[site.contradicts]["state"] == "dismissed"
    assert flags[site.contradicts]["note"] == "a denial, not news"
    assert flags[site.contradicts]["reviewed_at"] is not None
    assert flags[site.supports]["state"] == "confirmed" and flags[site.supports]["note"] is None
    assert main(["claims", "--json"]) == 0
    assert {c["id"]: c for c in json.loads(capsys.readouterr().out)}["C01"]["status"] == "supported"


def test_state_changes_need_the_csrf_token_and_a_post(site: Site) -> None:
    with session(site) as client:
        url = f"/flags/{site.supports}/review"
        refused = [
            client.post(url, data={"action": "confirm"}),  # no token
            client.post(url, data={"action": "confirm", "csrf_token": "forged"}),
            client.post(f"/api{url}", json={"action": "confirm"}),
            client.post(f"/api{url}", json={"action": "confirm"}, headers={"X-CSRF-Token": "x" + csrf(client)}),
            # the right token from a page of another origin
            client.post(url, data={"action": "confirm", "csrf_token": csrf(client)}, headers={"Origin": "http://evil"}),
        ]
        assert [r.status_code for r in refused] == [403] * len(refused)
        assert client.get(url).status_code == 405  # no state change on GET
        assert client.get(url, params={"action": "confirm"}).status_code == 405
        # without the cookie, a token alone is nothing
        bare = httpx.post(site.base + url, data={"action": "confirm", "csrf_token": csrf(client)})
        assert bare.status_code == 403
        assert client.post(url, data={"action": "erase", "csrf_token": csrf(client)}).status_code == 400
    assert {f.id: f.state for f in site.repo.list_flags(claim_id="C01")}[site.supports] == "new"


def test_feed_text_is_escaped_and_the_policy_is_strict(site: Site) -> None:
    with httpx.Client(base_url=site.base, timeout=30) as client:
        for path in ("/items", "/review", "/claims/C02", "/stories"):
            page = client.get(path)
            html = page.text
            assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html, path
            assert "<script>window" not in html and "<img src=x" not in html, path
            assert 'href="javascript:' not in html.lower(), path
            csp = page.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
            assert page.headers["x-content-type-options"] == "nosniff"
        items = {i["id"]: i for i in client.get("/api/items").json()}
        assert items[site.hostile]["title"] == HOSTILE_TITLE  # the JSON carries the text as it is
        assert items[site.hostile]["link"] is None  # but never offers it as a link


@pytest.mark.sqlite_only  # FTS5 across both scripts; PostgreSQL's substring fallback: tests/web/test_web_postgres.py
def test_item_search_in_both_scripts(site: Site) -> None:
    with httpx.Client(base_url=site.base, timeout=30) as client:

        def titles(query: str) -> list[str]:
            return [i["title"] for i in client.get("/api/items", params={"q": query}).json()]

        assert sorted(titles("threshold")) == [
            "Officials say the AI chip threshold for China was never changed",
            "US Commerce Department lowers AI chip export threshold",
        ]
        assert titles("THRESHOLD never") == ["Officials say the AI chip threshold for China was never changed"]
        assert titles("商務部") == ["美国商务部更新出口管制清单 英伟达芯片受限"]  # traditional query, simplified text
        assert titles("台积电") == ["台積電暫停向中國大陸客戶供應先進晶片"]  # simplified query, traditional text
        assert len(titles("出口管制")) == 2  # both scripts at once
        assert titles("芯片 台积电") == []
        assert titles('"') != []  # nothing left to search: the newest items
        page = client.get("/items", params={"q": "台积电"})
        assert "台積電暫停向中國大陸客戶供應先進晶片" in page.text and 'value="台积电"' in page.text
    # a new item is found on the next search, its text folded by the same code
    with site.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE item SET title = '輝達 H20 恢復銷售' WHERE title LIKE 'Officials%'")
    with httpx.Client(base_url=site.base, timeout=30) as client:
        assert [i["title"] for i in client.get("/api/items", params={"q": "恢复"}).json()] == ["輝達 H20 恢復銷售"]


def test_readyz_follows_the_service_lock(site: Site) -> None:
    with httpx.Client(base_url=site.base, timeout=30) as client:
        assert client.get("/healthz").status_code == 200
        down = client.get("/readyz")
        assert down.status_code == 503 and "not running" in down.json()["reasons"][0]
        assert main(["status", "--check"]) == 1  # the same verdict
        listen = site.base.removeprefix("http://")
        assert main(["web", "--check", "--listen", listen]) == 1  # the container's health check
        lock = DbLock(site.engine, SERVICE, LockOwner.this_process(), ttl=60)
        lock.acquire("monitor serve")
        up = client.get("/readyz")
        assert up.status_code == 200 and up.json()["healthy"] is True
        assert main(["status", "--check"]) == 0
        assert main(["web", "--check", "--listen", listen]) == 0
        lock.release()
        # the lock lost: its holder stopped beating long ago (a frozen or partitioned service)
        past = datetime.now(UTC) - timedelta(seconds=600)
        stale = DbLock(site.engine, SERVICE, LockOwner.this_process(), ttl=60, clock=lambda: past)
        stale.acquire("monitor serve")
        lost = client.get("/readyz")
        assert lost.status_code == 503 and "not running" in lost.json()["reasons"][0]
        assert main(["status", "--check"]) == 1
        assert main(["web", "--check", "--listen", listen]) == 1
        stale.release()
    assert main(["web", "--check", "--listen", f"127.0.0.1:{free_port()}"]) == 1  # nothing listening


def test_the_container_health_check_asks_readyz() -> None:
    root = Path(__file__).parents[2]
    check = '"monitor", "web", "--check"]'
    assert f'test: ["CMD", {check}' in (root / "docker-compose.yml").read_text()
    assert (
        f"HEALTHCHECK --interval=60s --timeout=30s --start-period=120s --retries=3 CMD [{check}"
        in (root / "Dockerfile").read_text()
    )


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_parse_and_move_after_a_poll(site: Site, feeds: FeedServer) -> None:
    assert site.metrics is not None
    with httpx.Client(base_url=site.base, timeout=30) as client:
        before = _samples(client.get("/metrics").text)
        flags_before = len(site.repo.list_flags())
        assert before[("monitor_items_stored", ())] == 5
        assert before[("monitor_source_consecutive_errors", (("source", "wire"),))] == 0
        assert ("monitor_polls_total", (("source", "wire"), ("status", "ok"))) not in before
        # news arrives: the service's poll cycle, counted by the same Metrics the server shows
        news = [  # three distinct reports (alike but a number, they would be one report's near-copies)
            ("Nvidia gets US licence to sell H20 chips to China", "Nvidia may resume H20 sales in China.", DAY),
            ("Huawei ships Ascend 910C accelerators to cloud firms", "Huawei's Ascend chips reach Baidu.", DAY),
            ("TSMC halts 7nm orders for Chinese AI chip designers", "TSMC stops advanced chip supply.", DAY),
        ]
        feeds.put("/wire.xml", feed(*news, prefix="b"))
        asyncio.run(_poll(site, site.metrics))
        after = _samples(client.get("/metrics").text)
    assert after[("monitor_polls_total", (("source", "wire"), ("status", "ok")))] == 1
    assert after[("monitor_items_total", (("kind", "new"),))] == 3
    assert after[("monitor_judge_seconds_count", ())] >= 3  # the three relevant new items were judged
    assert after[("monitor_items_stored", ())] == 8
    raised = sum(v for (name, _), v in after.items() if name == "monitor_flags_total")
    assert raised == len(site.repo.list_flags()) - flags_before  # one count per flag the poll stored
    assert after[("monitor_verifier_calls_total", ())] == 0  # no verifier configured
    assert ("monitor_poll_failures_total", (("source", "wire"),)) not in after


async def _poll(site: Site, metrics: Metrics) -> None:
    async with HttpxFetcher(site.config.settings.http) as fetcher:
        cycle = build_cycle(site.config, site.repo, fetcher, metrics)
        await run_cycle(site.config.sources, cycle, trigger="once")


def test_a_failed_poll_is_counted(site: Site, feeds: FeedServer) -> None:
    assert site.metrics is not None
    feeds.server.clear()  # the feed disappears: 404 from now on... or no handler at all
    asyncio.run(_poll(site, site.metrics))
    with httpx.Client(base_url=site.base, timeout=30) as client:
        after = _samples(client.get("/metrics").text)
    assert after[("monitor_poll_failures_total", (("source", "wire"),))] == 1
    assert after[("monitor_source_consecutive_errors", (("source", "wire"),))] == 1


def test_credentials_when_configured(site: Site) -> None:
    hashed = security.hash_password("correct horse", iterations=1000)
    env = {"MONITOR_WEB_TOKEN": TOKEN, "MONITOR_WEB_USER": "ana", "MONITOR_WEB_PASSWORD_HASH": hashed}
    with serving(site, env), httpx.Client(base_url=site.base, timeout=30) as client:
        assert client.get("/claims").status_code == 401
        assert client.get("/claims").headers["www-authenticate"].startswith("Basic")
        assert client.get("/metrics").status_code == 401
        assert client.get("/healthz").status_code == 200  # a verdict, for orchestrators
        assert client.get("/claims", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert client.get("/claims", headers={"Authorization": "Bearer wrong-token-wrong-token"}).status_code == 401
        assert client.get("/claims", auth=("ana", "correct horse")).status_code == 200
        assert client.get("/claims", auth=("ana", "wrong")).status_code == 401
        assert client.get("/claims", auth=("bob", "correct horse")).status_code == 401
        # a bearer token is not ambient: a script with it needs no CSRF token
        done = client.post(
            f"/api/flags/{site.supports}/review",
            json={"action": "confirm"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert done.status_code == 200 and done.json()["state"] == "confirmed"
        # Basic credentials are ambient: a browser sends them by itself, so the CSRF check holds
        forged = client.post(
            f"/api/flags/{site.contradicts}/review", json={"action": "confirm"}, auth=("ana", "correct horse")
        )
        assert forged.status_code == 403


def test_an_exposed_address_needs_credentials(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    for host in ("0.0.0.0", "192.168.1.20", "::", "example.org"):
        with pytest.raises(ConfigError):
            check_exposure(Listen(host, 8080), Credentials())
    for host in ("127.0.0.1", "127.8.0.1", "::1", "localhost"):
        check_exposure(Listen(host, 8080), Credentials())
    check_exposure(Listen("0.0.0.0", 8080), Credentials.from_env({"MONITOR_WEB_TOKEN": TOKEN}))
    with pytest.raises(ConfigError):
        Credentials.from_env({"MONITOR_WEB_TOKEN": "short"})
    with pytest.raises(ConfigError):
        Credentials.from_env({"MONITOR_WEB_USER": "ana", "MONITOR_WEB_PASSWORD_HASH": "plaintext"})
    # the commands: nothing listens, exit status 2 (a configuration error) with the reason
    workspace.write("sources.toml", "")
    port = free_port()
    capsys.readouterr()
    assert main(["web", "--listen", f"0.0.0.0:{port}"]) == 2
    assert "not a loopback address" in capsys.readouterr().err
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    workspace.write("monitor.toml", f'[web]\nlisten = "0.0.0.0:{port}"\n')
    assert main(["serve"]) == 2
    assert "not a loopback address" in capsys.readouterr().err
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_password_hashes() -> None:
    hashed = security.hash_password("pässword", iterations=1000)
    assert hashed.startswith("pbkdf2_sha256$1000$")
    assert security.verify_password("pässword", hashed)
    assert not security.verify_password("password", hashed)
    assert security.hash_password("x", iterations=1000) != security.hash_password("x", iterations=1000)  # salted
    creds = Credentials(user="ana", password_hash=hashed)
    good = "Basic " + base64.b64encode("ana:pässword".encode()).decode()
    assert creds.allows(good) and creds.allows(good)  # the second time from memory
    assert not creds.allows("Basic " + base64.b64encode(b"ana:nope").decode())
    assert not creds.allows("Basic !!!") and not creds.allows(None)


def test_hash_password_command(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:

    workspace.write("sources.toml", "")
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret\n"))
    capsys.readouterr()
    assert main(["web", "--hash-password"]) == 0
    hashed = capsys.readouterr().out.strip()
    assert security.verify_password("s3cret", hashed)
    assert Credentials.from_env({"MONITOR_WEB_USER": "ana", "MONITOR_WEB_PASSWORD_HASH": hashed}).configured


def test_the_server_reports_a_port_in_use(site: Site) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        web = server.prepare(site.config, site.engine, Metrics(), {}, f"127.0.0.1:{port}")
        with pytest.raises(Exception, match="cannot listen"), server.running_in_thread(web):
            pass


def test_the_digest_archive_each_rendered(site: Site) -> None:
    from monitor.pipeline.digest import run_digest

    assert site.metrics is not None
    since = datetime.now(UTC) - timedelta(days=1)
    outcome = run_digest(site.config, site.repo, datetime.now(UTC), False, period=(since, datetime.now(UTC)))
    site.metrics.observe_digest(outcome)  # what the service's digest job does with its outcome
    with httpx.Client(base_url=site.base, timeout=30) as client:
        [digest] = client.get("/api/digests").json()
        assert digest["id"] == outcome.digest_id and digest["items"] == outcome.digest.item_count
        assert digest["deliveries"]["file"]["status"] == "sent"
        assert client.get(f"/api/digests/{digest['id']}").json()["markdown"] == outcome.path.read_text()
        page = client.get(f"/digests/{digest['id']}")
        assert page.status_code == 200 and f'src="/digests/{digest["id"]}/email"' in page.text
        email = client.get(f"/digests/{digest['id']}/email")
        assert email.status_code == 200 and "US Commerce Department lowers AI chip export threshold" in email.text
        policy = email.headers["content-security-policy"]
        assert "sandbox" in policy and "script-src" not in policy and "default-src 'none'" in policy
        assert "<script>window" not in email.text  # the digest's own escaping, shown as it is mailed
        assert client.get("/digests/999").status_code == 404 and client.get("/digests/999/email").status_code == 404
        metrics = _samples(client.get("/metrics").text)
    assert metrics[("monitor_digest_deliveries_total", (("channel", "file"), ("status", "sent")))] == 1
    assert metrics[("monitor_digest_deliveries_total", (("channel", "atom"), ("status", "sent")))] == 1
