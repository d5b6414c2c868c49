"""Shared fixtures: no network beyond loopback, a config directory, a feed server with ETags."""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

DATA = Path(__file__).parent / "data"

if TYPE_CHECKING:  # the service's helpers import this module: only their names here
    from tests.pgserver import PgServer
    from tests.servicekit import Serve, Site


def _loopback_only(address: Any) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and host not in ("localhost",):
        try:
            if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
                raise OSError(f"tests may not reach {host}: loopback only")
        except ValueError:
            raise OSError(f"tests may not reach {host}: loopback only") from None


@pytest.fixture(autouse=True, scope="session")
def _shared_lookups(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One CC-CEDICT cache for the session (`monitor.text.cedict.built`), for every test and the
    processes they start: the lookups are built once, not by each command a test runs, nor kept
    in each test's storage directory. Tests of the cache set their own."""
    from monitor.text.cedict import CACHE_ENV

    before = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("lookups"))
    yield
    if before is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = before


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Block every connection that is not to a loopback address."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _loopback_only(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _loopback_only(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


class FeedServer:
    """Serves documents from memory with ETags and 304s, and counts requests."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.docs: dict[str, tuple[bytes, str, dict[str, str]]] = {}
        self.hits: dict[str, int] = {}
        self.conditional_hits: dict[str, int] = {}

    @property
    def base(self) -> str:
        return f"http://{self.server.host}:{self.server.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def put(self, path: str, body: bytes | str, content_type: str = "application/rss+xml", **headers: str) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.docs[path] = (
            data.replace(b"HOST", f"{self.server.host}:{self.server.port}".encode()),
            content_type,
            headers,
        )
        self.server.expect_request(path).respond_with_handler(self._handler(path))
        return self.url(path)

    def put_file(self, path: str, name: str, content_type: str = "application/rss+xml") -> str:
        return self.put(path, (DATA / "feeds" / name).read_bytes(), content_type)

    def put_handler(self, path: str, handler: Callable[[Request], Response]) -> str:
        self.server.expect_request(path).respond_with_handler(handler)
        return self.url(path)

    def _handler(self, path: str) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            self.hits[path] = self.hits.get(path, 0) + 1
            body, content_type, headers = self.docs[path]
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            if request.headers.get("If-None-Match") == etag:
                self.conditional_hits[path] = self.conditional_hits.get(path, 0) + 1
                return Response(status=304, headers={"ETag": etag})
            return Response(body, status=200, headers={"Content-Type": content_type, "ETag": etag, **headers})

        return handle


@pytest.fixture
def feeds(httpserver: HTTPServer) -> Iterator[FeedServer]:
    yield FeedServer(httpserver)


SHIPPED_CONFIG = Path(__file__).parents[1] / "config"


class Workspace:
    """A working directory with config/ and storage/, as a user's checkout would have."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "config"
        self.config.mkdir()
        (root / "storage").mkdir()
        self.database_url = f"sqlite:///{root / 'storage' / 'monitor.db'}"

    def ship_claims(self) -> Path:
        """The shipped claim registry, with the article texts it names."""
        shutil.copytree(SHIPPED_CONFIG / "articles", self.config / "articles")
        return Path(shutil.copy(SHIPPED_CONFIG / "claims.toml", self.config / "claims.toml"))

    def write(self, name: str, text: str) -> Path:
        path = self.config / name
        path.write_text(text, encoding="utf-8")
        return path

    def sources(self, *entries: dict[str, Any]) -> Path:
        blocks = []
        for entry in entries:
            lines = ["[[source]]"] + [f"{k} = {_toml(v)}" for k, v in entry.items()]
            blocks.append("\n".join(lines))
        return self.write("sources.toml", "\n\n".join(blocks) + "\n")

    @property
    def database(self) -> Path:
        return self.root / "storage" / "monitor.db"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Workspace]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    monkeypatch.delenv("MONITOR_DATABASE_URL", raising=False)
    space = Workspace(tmp_path)
    if TEST_DATABASE != "postgresql":
        yield space
        return
    # the second CI pass: each workspace on a new PostgreSQL database
    server = request.getfixturevalue("pg")
    space.database_url = server.create_database(f"ws{next(_DATABASES)}")
    monkeypatch.setenv("MONITOR_DATABASE_URL", space.database_url)
    yield space
    from monitor.storage import close_databases

    close_databases()  # engines a test opened and left: psycopg warns of connections dropped open


# MONITOR_TEST_DATABASE=postgresql runs the suite with each workspace on a throwaway PostgreSQL
# (the session's `pg`; `.ci/run` runs the suite once so); tests that read the SQLite file itself
# carry the marker `sqlite_only` and are skipped there.
TEST_DATABASE = os.environ.get("MONITOR_TEST_DATABASE", "sqlite")
_DATABASES = itertools.count()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if TEST_DATABASE != "postgresql":
        return
    skip = pytest.mark.skip(reason="reads the SQLite file itself (MONITOR_TEST_DATABASE=postgresql)")
    # Tests that open an engine and drop it leave its PostgreSQL connection to the garbage
    # collector, which psycopg reports wherever it happens to run (in another test). The
    # commands themselves close theirs (test_postgres.py::test_commands_close_their_connections).
    dropped = pytest.mark.filterwarnings("ignore:.*was deleted while still open:ResourceWarning")
    for item in items:
        item.add_marker(dropped)
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


@pytest.fixture
def site() -> Iterator[Site]:
    from tests.servicekit import Site

    s = Site()
    yield s
    s.close()


@pytest.fixture
def serve(workspace: Workspace) -> Iterator[Callable[..., Serve]]:
    started: list[Serve] = []

    from tests.servicekit import Serve

    def start(name: str = "serve") -> Serve:
        s = Serve(workspace, name).start()
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc is not None and s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    """A throwaway PostgreSQL server on loopback for the session (tests/pgserver.py)."""
    import os

    from tests.pgserver import ENV_REQUIRE, PgServer, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get(ENV_REQUIRE, "") not in ("", "0"):
            pytest.fail(f"{ENV_REQUIRE} is set but PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)")
        pytest.skip(f"PostgreSQL is not installed (apt-get install postgresql; set {ENV_REQUIRE}=1 to require it)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail('psycopg is not installed: pip install -e ".[dev]"')
    server = PgServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
