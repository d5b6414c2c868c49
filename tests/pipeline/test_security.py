"""Security checks that apply today: hostile feed text never reaches the Markdown digest
unneutralised, only http(s) links are ever rendered, and followed links cannot reach private
or local addresses unless the configuration allows it. (Config paths that would write outside
the storage directory: tests/cli/test_config_mistakes.py.)"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from markdown_it import MarkdownIt

from monitor.cli import main
from monitor.tell.render import md_link, md_text, safe_url
from tests.conftest import Workspace
from tests.loopback import Handler, rss, scripted_server

BAD_SCHEMES = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>x</script>",
]
BAD_SCHEMES += [
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "java\tscript:alert(1)",
    "//evil.example/x",
    "javascript://x",
]


# Plain words, no names, so that each item is a story of its own (a paragraph reads better than 41
# quoted words).
WORDS = (  # noqa: SIM905
    "harbour orchard violin glacier pepper lantern meadow copper saddle thunder walnut pillow canyon marble "
    "falcon basket ribbon timber velvet anchor blossom candle desert feather garden hollow island jasmine "
    "kettle ladder mirror needle oyster parrot quartz raven spider tunnel umbrella valley willow"
).split()


def hostile_feed() -> str:
    """Relevant items (so that they reach the digest) whose every field is hostile, and whose
    own words differ enough that each is a story of its own."""
    entries = []
    links = [*BAD_SCHEMES, "http://ok.example/a) [pwn](javascript:alert(1)", "http://ok.example/q?x=<script>y</script>"]
    for n, link in enumerate(links):
        own = " ".join(f"{WORDS[(n * 5 + k) % len(WORDS)]}{chr(97 + n)}" for k in range(40))
        title = html.escape(
            f"export controls {own[:60]} <script>alert({n})</script> **bold** [x](javascript:alert(1)) "
            "![t](http://evil.example/t.png) <img src=x onerror=alert(1)> \u202egnp.exe"
        )
        summary = html.escape(
            '<img src=x onerror=alert(1)><a href="javascript:alert(1)">click</a><iframe src="//evil.example"></iframe>'
            f"[click](javascript:alert(1)) <!-- c -->\n# Heading\n> quote | table | `code` {own}"
        )
        entries.append(
            f"<title>{title}</title><link>{html.escape(link)}</link><guid>hostile-{n}</guid>"
            f"<description>{summary} export controls.</description>"
        )
    return rss(*entries)


def rendered_html(markdown: str) -> str:
    """The digest as the most permissive Markdown viewer would show it: raw HTML on, and no
    link validation of its own, so that only the monitor's neutralising stands between."""
    renderer = MarkdownIt("commonmark", {"html": True})
    renderer.validateLink = lambda url: True  # type: ignore[method-assign]
    return str(renderer.render(markdown))


def test_hostile_items_reach_the_digest_only_as_inert_text(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace.write("monitor.toml", '[poll]\narticle = "never"\n')
    with scripted_server() as server:
        workspace.sources({"id": "hostile", "url": server.doc("/feed.xml", hostile_feed()), "kind": "feed"})
        assert main(["run", "--once"]) == 0
    capsys.readouterr()
    assert main(["digest"]) == 0
    written = sorted((workspace.root / "storage" / "digests").glob("*.md"))
    assert written, capsys.readouterr()
    markdown = written[0].read_text(encoding="utf-8")
    assert markdown.count("export controls ") >= len(BAD_SCHEMES), markdown  # the items are there, as text

    targets = re.findall(r"\]\(<([^>]*)>\)", markdown)
    assert targets and all(t.startswith(("http://", "https://")) for t in targets), targets
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]", markdown)

    page = rendered_html(markdown).lower()
    for active in ("<script", "<img", "<iframe", "onerror", "<h1>heading", "<code>"):
        assert active not in page, active
    hrefs = re.findall(r'(?:href|src)="([^"]*)"', page)
    assert all(h.startswith(("http://", "https://")) for h in hrefs), hrefs  # "javascript" may be in a path


@pytest.mark.parametrize("url", BAD_SCHEMES)
def test_only_http_links_are_rendered(url: str) -> None:
    assert safe_url(url) is None
    assert md_link("Title", url) == "Title"


@pytest.mark.parametrize(
    ("url", "target"),
    [
        (
            "http://ok.example/a) [pwn](javascript:alert(1)",
            "http://ok.example/a%29%20%5Bpwn%5D%28javascript:alert%281%29",
        ),
        ("https://ok.example/a>b<c d", "https://ok.example/a%3Eb%3Cc%20d"),
        ("https://ok.example/\n# x", "https://ok.example/%0A#%20x"),
    ],
)
def test_a_link_target_cannot_break_out_of_its_brackets(url: str, target: str) -> None:
    assert md_link("T", url) == f"[T](<{target}>)"


def test_markdown_text_is_escaped() -> None:
    assert md_text("**b** [x](y) <i>\n# h `c` \u202eevil") == r"\*\*b\*\* \[x\]\(y\) \<i\> \# h \`c\` evil"


# -- the URL gate, end to end: articles of items whose links lead to local addresses ----------

PRIVATE_LINKS = [
    ("another loopback address", "http://127.0.0.2:{port}/a", "loopback"),
    ("localhost by name", "http://localhost:{port}/a", "resolves to loopback"),
    ("IPv4-mapped IPv6 loopback", "http://[::ffff:127.0.0.1]:{port}/a", "loopback"),
    ("private network", "http://10.1.2.3/a", "private"),
    ("cloud metadata (link-local)", "http://169.254.169.254/latest/meta-data/", "link-local"),
    ("unspecified address", "http://0.0.0.0:{port}/a", "unspecified"),
    ("decimal IPv4", "http://2130706433:{port}/a", "loopback"),
    ("file scheme", "file:///etc/passwd", "scheme 'file'"),
    ("gopher scheme", "gopher://127.0.0.1:{port}/a", "scheme 'gopher'"),
]
ARTICLE = (
    b"<html><body><article><h1>Story</h1>"
    + b"<p>Body text of the story, long enough to keep.</p>" * 20
    + b"</article></body></html>"
)


def items_by_title(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    capsys.readouterr()
    assert main(["items", "--json"]) == 0
    return {i["title"]: i for i in json.loads(capsys.readouterr().out)}


def test_followed_links_cannot_reach_private_addresses(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    with scripted_server() as server, scripted_server("127.0.0.2") as other:
        port = server.base.rsplit(":", 1)[1]
        other.doc("/a", ARTICLE, "text/html")

        def to_other(h: Handler, _stop: object) -> None:
            h.respond(b"", status=302, Location=f"{other.base}/a")

        links = [link.format(port=port) for _name, link, _why in PRIVATE_LINKS]
        links += [server.doc("/own", ARTICLE, "text/html"), server.script("/hop", to_other)]
        entries = [
            f"<title>Story {n}</title><link>{html.escape(u)}</link><guid>g{n}</guid>" for n, u in enumerate(links)
        ]
        workspace.sources({"id": "s", "url": server.doc("/feed.xml", rss(*entries)), "kind": "feed", "article": "all"})
        assert main(["run", "--once"]) == 0
        items = items_by_title(capsys)
        assert other.hits["/a"] == 0  # nothing reached the other address, directly or by a redirect
    for n, (name, _link, why) in enumerate(PRIVATE_LINKS):
        item = items[f"Story {n}"]
        assert item["article_status"] == "blocked", (name, item)
        assert why in item["article_error"], (name, item["article_error"])
    assert items[f"Story {len(links) - 2}"]["article_status"] == "ok"  # the source's own host is allowed
    hop = items[f"Story {len(links) - 1}"]
    assert hop["article_status"] == "blocked" and "127.0.0.2" in hop["article_error"]


def test_allow_private_lets_followed_links_reach_them(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    workspace.write("monitor.toml", "[http]\nallow_private = true\n")
    with scripted_server() as server, scripted_server("127.0.0.2") as other:
        link = other.doc("/a", ARTICLE, "text/html")
        feed = rss(f"<title>Story</title><link>{link}</link><guid>g</guid>")
        workspace.sources({"id": "s", "url": server.doc("/feed.xml", feed), "kind": "feed", "article": "all"})
        assert main(["run", "--once"]) == 0
        assert items_by_title(capsys)["Story"]["article_status"] == "ok"
        assert other.hits["/a"] == 1
