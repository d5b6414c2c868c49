"""`monitor serve` with its web side, as a subprocess against a loopback feed: the web side
answers once the service holds its lock, /readyz is ready after the first poll and /metrics
counts that poll (the service's own counters, not the database's), and a stop closes both.
A taken port does not stop the polls."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Workspace
from tests.servicekit import SETTINGS, Serve, Site, count
from tests.websetup import free_port


def configure(workspace: Workspace, listen: str) -> None:
    settings = SETTINGS.format(digest_cron="0 7 * * *", stop_timeout=5)
    workspace.write("monitor.toml", settings + f'\n[web]\nlisten = "{listen}"\n')


def polls(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "monitor_polls_total" and sample.labels.get("source") == "a"
    )


def test_serve_runs_the_web_side(workspace: Workspace, site: Site, serve: Callable[..., Serve]) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    configure(workspace, f"127.0.0.1:{port}")
    workspace.sources({"id": "a", "url": site.feed("/a.xml", 3), "kind": "feed"})
    service = serve()

    def answers(path: str, status: int) -> bool:
        try:
            return httpx.get(base + path, timeout=5).status_code == status
        except httpx.TransportError:
            return False

    service.wait_for("the web side", lambda: answers("/healthz", 200))
    service.wait_for("a stored poll", lambda: count(workspace, "SELECT count(*) FROM item") == 3)
    service.wait_for("/readyz ready", lambda: answers("/readyz", 200))
    service.wait_for("a counted poll", lambda: polls(base) >= 1)
    first = polls(base)
    service.wait_for("another poll counted", lambda: polls(base) > first)  # interval = 1 s
    claims = httpx.get(f"{base}/api/claims", timeout=10).json()
    assert isinstance(claims, list)
    assert service.stop() == 0
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # stopped with the service


def test_a_taken_port_does_not_stop_the_polls(workspace: Workspace, site: Site, serve: Callable[..., Serve]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        configure(workspace, f"127.0.0.1:{taken.getsockname()[1]}")
        workspace.sources({"id": "a", "url": site.feed("/a.xml", 2), "kind": "feed"})
        service = serve()
        service.wait_for("a stored poll", lambda: count(workspace, "SELECT count(*) FROM item") == 2)
        time.sleep(0.2)
        assert "event=web_unavailable" in service.output()
        assert service.stop() == 0
