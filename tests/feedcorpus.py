"""feedparser's own test feeds, served on loopback as sources: the harness shared by
`tests/collect/test_feedparser_corpus.py` and `bench/feedparser_corpus.py`.

Each corpus file opens with an XML comment that may hold simulated HTTP headers
(`Header: Content-type: text/xml; charset=...`); the server sends them with the file, as a
real server would, so that the encoding cases are fetched the way feedparser's tests mean them.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import feedparser
from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

from monitor.collect.parse.jsonfeed import is_json_feed, parse_json_feed
from monitor.text.normalize import canonical_url

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "feedparser-tests"
NOT_FEEDS = {"NOTICE.md", "LICENSE"}
_HEADER = re.compile(rb"^Header:[ \t]+([A-Za-z][A-Za-z0-9-]*):[ \t]*(.*?)[ \t]*\r?$", re.MULTILINE)
# Headers a server would send and the monitor may use; the rest of the comment is test metadata.
SERVED_HEADERS = {"content-type", "content-location", "content-language", "last-modified", "etag", "x-foo"}


@dataclass(frozen=True)
class CorpusFile:
    rel: str  # path under the corpus folder, with forward slashes
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return "/" + quote(self.rel)

    @property
    def served_headers(self) -> dict[str, str]:
        """The headers the server sends: the simulated ones, and a type for every file."""
        default = "application/json" if self.rel.endswith(".json") else "application/xml"
        return {"content-type": default} | self.headers


def simulated_headers(body: bytes) -> dict[str, str]:
    """The `Header:` lines of a corpus file's leading comment, as response headers."""
    head = body[:4096]
    comment_end = head.find(b"-->")
    if comment_end >= 0:
        head = head[:comment_end]
    headers: dict[str, str] = {}
    for name, value in _HEADER.findall(head):
        key = name.decode("ascii").lower()
        if key in SERVED_HEADERS:
            headers[key] = value.decode("latin-1")
    return headers


def load_corpus(root: Path = CORPUS) -> list[CorpusFile]:
    """Every feed file of the corpus (the license and notice excepted), in path order."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.relative_to(root).as_posix() not in NOT_FEEDS)
    found = []
    for path in files:
        body = path.read_bytes()
        found.append(CorpusFile(path.relative_to(root).as_posix(), body, simulated_headers(body)))
    return found


def source_id(index: int, rel: str) -> str:
    """A valid, unique, readable source id for the `index`-th file."""
    slug = re.sub(r"[^a-z0-9]+", "-", rel.lower().removesuffix(".xml")).strip("-")
    return f"c{index:04d}-{slug}"[:64].rstrip("-")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall between
    files: dict[str, CorpusFile]

    def do_GET(self) -> None:
        found = self.files.get(unquote(urlsplit(self.path).path))
        if found is None:
            self.send_error(404)
            return
        etag = found.headers.get("etag")
        if etag and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        for name, value in found.served_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(found.body)))
        self.end_headers()
        self.wfile.write(found.body)

    def log_message(self, format: str, *args: object) -> None:  # the run's own table says enough
        pass


@contextmanager
def serve(files: list[CorpusFile]) -> Iterator[str]:
    """Serve `files` on 127.0.0.1 (each at its `path`); yields the base URL."""
    handler = type("CorpusHandler", (_Handler,), {"files": {"/" + f.rel: f for f in files}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def sources_toml(files: list[CorpusFile], base: str) -> str:
    blocks = [
        f'[[source]]\nid = "{source_id(n, f.rel)}"\nurl = "{base}{f.path}"\nkind = "feed"\n'
        for n, f in enumerate(files)
    ]
    return "\n".join(blocks)


# One host serves every file: the per-host limit is raised to the global one, the article
# fetch is off (the corpus links lead off loopback), and the deadline is generous because
# a download's queueing for a connection slot does not count against it.
MONITOR_TOML = """\
[http]
max_connections = 16
per_host = 16
timeout = 20
deadline = 30

[poll]
article = "never"
"""


def reason_class(message: str) -> str:
    """A failure's class: its kind and the first words of its reason, without specifics."""
    kind, _, reason = message.partition(": ")
    reason = reason.removeprefix("no entries: ")
    if m := re.match(r"malformed feed \((\w+)", reason):
        return f"{kind}: no entries, malformed ({m[1]})"
    if m := re.match(r"not a feed \(([^)]*)\)", reason):
        return f"{kind}: no entries, not a feed ({m[1]})"
    if m := re.match(r"HTTP \d+", reason):
        return f"{kind}: {m[0]}"
    return f"{kind}: {re.sub(r'[0-9]+', 'N', reason)[:60]}"


@dataclass(frozen=True)
class CorpusFigures:
    files: int
    ingested: int  # polled without error (entries stored, or none to store)
    with_entries: int  # files with at least one stored entry
    failed: int
    entries: int  # items stored
    failures: Counter[str]  # reason class -> files

    def lines(self) -> list[str]:
        out = [
            f"files served: {self.files}",
            f"ingested: {self.ingested} ({self.with_entries} with entries)",
            f"failed: {self.failed}",
            f"entries stored: {self.entries}",
        ]
        out += [f"  {n:5d}  {reason}" for reason, n in self.failures.most_common()]
        return out


def figures(database: Path, files: int) -> CorpusFigures:
    with sqlite3.connect(database) as conn:
        statuses = conn.execute("SELECT last_status, last_error FROM source").fetchall()
        per_source = dict(conn.execute("SELECT source_id, count(*) FROM item GROUP BY source_id").fetchall())
    failures = Counter(reason_class(error or "") for status, error in statuses if status == "error")
    return CorpusFigures(
        files=files,
        ingested=sum(status in ("ok", "not_modified") for status, _ in statuses),
        with_entries=sum(1 for n in per_source.values() if n),
        failed=sum(failures.values()),
        entries=sum(per_source.values()),
        failures=failures,
    )


@dataclass(frozen=True)
class Expected:
    """What feedparser itself recovers from a file, and what of it the monitor must store."""

    entries: int  # entries feedparser recovered
    empty: int  # of which have no title, summary or link: skipped by rule
    repeats: int  # of which repeat an earlier entry's guid or link: stored once
    bozo: bool

    @property
    def storable(self) -> int:
        return self.entries - self.empty - self.repeats


def _text(markup: object) -> str:
    value = str(markup or "")
    if "<" in value or "&" in value:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
            value = BeautifulSoup(value, "lxml").get_text(" ")
    return " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", value).split())


def expected(file: CorpusFile) -> Expected:
    """The oracle: feedparser run directly on the file with the headers a fetch would see.
    An entry is storable when it has a title, a summary (or content), a link or a URL guid;
    within a feed the first entry of a guid (else link, else title and summary) or of a
    canonical link wins."""
    passed = {
        k: v for k, v in file.served_headers.items() if k in ("content-type", "content-location", "content-language")
    }
    if is_json_feed(file.body, passed):  # feedparser 6.0 reads no JSON Feed; ours does (its test expects 2 entries)
        parsed = parse_json_feed(file.body, passed)
        return Expected(len(parsed.items), 0, 0, parsed.warning is not None)
    doc = feedparser.parse(file.body, response_headers=passed)
    empty = repeats = 0
    keys: set[object] = set()
    links: set[str] = set()
    for entry in doc.entries:
        title = _text(entry.get("title"))
        summary = max(
            [_text(entry.get("summary"))] + [_text(c.get("value")) for c in entry.get("content") or []], key=len
        )
        guid = " ".join(str(entry.get("id") or "").split())
        link = " ".join(str(entry.get("link") or "").split()) or (
            guid if guid.lower().startswith(("http://", "https://")) else ""
        )
        if not (title or summary or link):
            empty += 1
            continue
        key: object = guid or link or (title, summary)
        canonical = canonical_url(link)
        if key in keys or (canonical is not None and canonical in links):
            repeats += 1
            continue
        keys.add(key)
        if canonical is not None:
            links.add(canonical)
    return Expected(len(doc.entries), empty, repeats, bool(doc.get("bozo")))
