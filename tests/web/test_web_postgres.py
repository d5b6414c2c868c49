"""The web side over PostgreSQL (a throwaway server on loopback, as tests/storage/test_postgres.py):
the pages and a review work the same; item search falls back to a substring match of title
and summary (no FTS5 there), still case-blind."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from monitor.storage.search import ItemSearch
from tests.conftest import FeedServer, Workspace
from tests.pgserver import PgServer
from tests.websetup import Site, build_site, serving


@pytest.fixture
def site(pg: PgServer, feeds: FeedServer, workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv("MONITOR_DATABASE_URL", pg.create_database("web"))
    built = build_site(feeds, workspace)
    assert built.engine.dialect.name == "postgresql"
    with serving(built) as running:
        yield running
    built.engine.dispose()


def test_pages_review_and_search_on_postgres(site: Site) -> None:
    assert not ItemSearch(site.engine).indexed
    with httpx.Client(base_url=site.base, timeout=30) as client:
        assert client.get("/api/claims/C01").json()["status"] == "contested"
        titles = [i["title"] for i in client.get("/api/items", params={"q": "THRESHOLD never"}).json()]
        assert titles == ["Officials say the AI chip threshold for China was never changed"]
        assert [i["title"] for i in client.get("/api/items", params={"q": "商务部"}).json()] == [
            "美国商务部更新出口管制清单 英伟达芯片受限"
        ]
        client.get("/review")
        token = client.cookies["monitor_csrf"]
        done = client.post(
            f"/api/flags/{site.contradicts}/review", json={"action": "dismiss"}, headers={"X-CSRF-Token": token}
        )
        assert done.status_code == 200
        assert client.get("/api/claims/C01").json()["status"] == "supported"
        for path in ("/claims", "/review", "/items", "/stories", "/sources", "/digests"):
            assert client.get(path).status_code == 200, path
