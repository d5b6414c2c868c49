"""The digest's content and rendering, without a database or a network: what goes in, in what
order, and how untrusted feed text comes out in Markdown, plain text, HTML, Atom and headers."""

from __future__ import annotations

import email
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest
from markdown_it import MarkdownIt

from monitor.judge.registry import Claim
from monitor.records import DigestRecord, SourceState, StoredFlag, StoredItem
from monitor.tell.build import Digest, DigestInput, build_digest
from monitor.tell.feed import build_feed
from monitor.tell.message import compose_message
from monitor.tell.render import (
    environment,
    line,
    md_link,
    md_text,
    render_email,
    render_feed,
    render_markdown,
    safe_url,
)

END = datetime(2025, 7, 16, 7, tzinfo=UTC)
START = END - timedelta(days=1)
HOSTILE = "<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)> **bold** # H"
PUBLISHED = date(2025, 7, 22)
CLAIMS = [
    Claim("C05", "The threshold rule dates from October 2023.", "门槛规则始于2023年10月。", "chips", PUBLISHED, "zh"),
    Claim("C23", "Nvidia will resume H20 sales to China.", "英伟达将开始向中国销售H20芯片。", "chips", PUBLISHED, "zh"),
    Claim("C24", "SMIC makes 7nm chips.", None, "chips", PUBLISHED, "zh"),
]
SOURCES = [
    SourceState("wire", "http://w", "feed", "Wire"),
    SourceState("cn", "http://c", "feed", "中文网"),
    SourceState("reprint", "http://r", "feed", "Reprint Daily"),
    SourceState(
        "down",
        "http://d",
        "feed",
        "Down Times",
        last_status="error",
        consecutive_errors=4,
        last_error="ConnectError: refused",
        last_success_at=END - timedelta(days=2),
    ),
]


def item(
    n: int,
    title: str,
    *,
    source: str = "wire",
    story: int | None = None,
    hours: float = 1,
    copy_of: int | None = None,
    relevant: bool = True,
    url: str | None = None,
    lang: str = "en",
) -> StoredItem:
    return StoredItem(
        id=n,
        source_id=source,
        guid=f"g{n}",
        url=url if url is not None else f"https://news.example/{n}",
        canonical_url=None,
        title=title,
        summary=f"Summary of {title}",
        lang=lang,
        published_at=END - timedelta(hours=hours),
        fetched_at=END - timedelta(minutes=30),
        date_note=None,
        duplicate_of=copy_of,
        story_id=story,
        relevant=relevant,
        relevant_why=None,
    )


def flag(
    n: int,
    claim: str,
    relation: str,
    on: StoredItem,
    *,
    state: str = "new",
    score: float = 1.2,
    sources: tuple[str, ...] | None = None,
    evidence: str = "The evidence sentence.",
    created: datetime | None = None,
) -> StoredFlag:
    return StoredFlag(
        id=n,
        claim_id=claim,
        relation=relation,
        score=score,
        evidence=evidence,
        why=None,
        state=state,
        note=None,
        created_at=created or END - timedelta(minutes=20),
        reviewed_at=None,
        item=on,
        sources=sources or (on.source_id,),
    )


def digest_of(
    items: list[StoredItem], flags: list[StoredFlag], copies: dict[int, list[StoredItem]] | None = None, **kw: int
) -> Digest:
    data = DigestInput(items, copies or {}, flags, CLAIMS, {"C05": "contested", "C23": "updated"}, SOURCES)
    return build_digest("Daily digest", START, END, data, **kw)


def test_claim_changes_come_first_contradicted_then_updated_one_entry_per_story() -> None:
    a = item(1, "US lets Nvidia resume H20 sales", story=7)
    b = item(2, "輝達恢復對華銷售H20晶片", source="cn", story=7, lang="zh-Hant")
    c = item(3, "Rule dated 2022", hours=3)
    d = item(4, "SMIC ships 7nm", hours=2)
    flags = [
        flag(10, "C24", "supports", d),
        flag(11, "C23", "supports", b, score=1.5),
        flag(12, "C23", "updates", a, sources=("wire", "reprint")),
        flag(13, "C05", "contradicts", c),
    ]
    digest = digest_of([a, b, c, d], flags)
    assert [c.claim_id for c in digest.claim_changes] == ["C05", "C23", "C24"]
    c23 = digest.claim_changes[1]
    assert c23.text == CLAIMS[1].text and c23.quote == CLAIMS[1].quote and c23.quote_lang == "zh-Hans"
    assert c23.status == "updated"
    [entry] = c23.entries  # one story: one entry, its strongest flag, the other outlets listed
    assert entry.relation == "updates" and entry.item.id == 1 and entry.outlet == "Wire"
    assert [m.outlet for m in entry.also] == ["Reprint Daily", "中文网"]
    assert entry.also[1].url == "https://news.example/2"


def test_a_claim_shows_its_text_and_the_articles_words_in_every_format() -> None:
    a = item(1, "US lets Nvidia resume H20 sales")
    digest = digest_of([a], [flag(10, "C23", "updates", a), flag(11, "C24", "supports", a)])
    rendered = render_email(digest, environment(), prefix="[m]")
    markdown = render_markdown(digest, environment())
    assert "> Nvidia will resume H20 sales to China\\.\n>\n> The article: “英伟达将开始向中国销售H20芯片。”" in markdown
    assert "  Nvidia will resume H20 sales to China.\n  The article: “英伟达将开始向中国销售H20芯片。”" in rendered.text
    assert '<span lang="zh-Hans">“英伟达将开始向中国销售H20芯片。”</span>' in rendered.html
    c24 = markdown[markdown.index("### C24") :]
    assert "> SMIC makes 7nm chips\\." in c24 and "The article:" not in c24.split("- **")[0]  # no quote, no line


def test_dismissed_flags_flags_outside_the_period_and_off_topic_items_stay_out() -> None:
    kept = item(1, "Kept")
    off = item(2, "Football", relevant=False)
    copy = item(3, "Kept (copy)", source="reprint", copy_of=1)
    flags = [
        flag(10, "C23", "updates", kept, state="dismissed"),
        flag(11, "C05", "contradicts", kept, created=START - timedelta(seconds=1)),
        flag(12, "C24", "supports", off),
        flag(13, "C24", "supports", kept, state="confirmed"),
    ]
    digest = digest_of([kept, off, copy], flags, {1: [copy]})
    assert [(c.claim_id, [e.flag_id for e in c.entries]) for c in digest.claim_changes] == [("C24", [13])]
    assert [s.item.id for s in digest.top_stories] == [1]
    assert digest.item_count == 1
    assert digest.top_stories[0].outlets == 2 and [m.outlet for m in digest.top_stories[0].also] == ["Reprint Daily"]


def test_stories_rank_by_outlets_then_recency_and_the_rest_are_listed_briefly() -> None:
    lone_new = item(1, "Lone, newest", hours=1)
    wide = item(2, "Carried widely", hours=5, story=9)
    wide_b = item(3, "Carried widely, another report", source="cn", hours=4, story=9)
    wide_copy = item(4, "copy", source="reprint", copy_of=2)
    lone_old = item(5, "Lone, older", hours=6)
    digest = digest_of([lone_new, wide, wide_b, wide_copy, lone_old], [], {2: [wide_copy]}, top=2)
    assert [s.item.id for s in digest.top_stories] == [2, 1]
    assert digest.top_stories[0].outlets == 3 and digest.top_stories[0].items == 2
    assert [s.item.id for s in digest.other_stories] == [5]
    assert digest.story_count == 3 and digest.item_count == 4


def test_source_health_and_empty_period() -> None:
    digest = digest_of([], [])
    assert digest.empty
    assert [(f.name, f.consecutive_errors) for f in digest.failing] == [("Down Times", 4)]
    env = environment()
    text = render_markdown(digest, env)
    assert "Nothing new in this period." in text
    assert "**Down Times**: failing, 4 errors in a row; last success 2025-07-14 07:00" in text
    rendered = render_email(digest, env, prefix="[m]")
    assert "nothing new" in rendered.subject and "Nothing new in this period." in rendered.html


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.example/x?q=1&r=2", "https://a.example/x?q=1&r=2"),
        ("http://a.example/a b", "http://a.example/a%20b"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        (" javascript:alert(1)", None),
        ("data:text/html,<script>", None),
        ("vbscript:x", None),
        ("//a.example/x", None),
        ("/relative", None),
        ('https://a.example/"><script>', "https://a.example/%22%3E%3Cscript%3E"),
        ("", None),
        (None, None),
    ],
)
def test_only_http_links_survive(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[x](javascript:alert(1))", "\\[x\\]\\(javascript:alert\\(1\\)\\)"),
        ("<img src=x onerror=alert(1)>", "\\<img src=x onerror=alert\\(1\\)\\>"),
        ("# heading\n- item", "\\# heading \\- item"),
        ("a\u202eevil", "aevil"),
        ("芯片 ２４００亿", "芯片 ２４００亿"),
    ],
)
def test_markdown_neutralises_untrusted_text(text: str, expected: str) -> None:
    assert md_text(text) == expected


def test_markdown_links_keep_only_safe_targets() -> None:
    assert md_link("t", "javascript:alert(1)") == "t"
    assert md_link("[t](x)", "https://a.example/") == "[\\[t\\]\\(x\\)](<https://a.example/>)"
    assert line("a\x00b\u2066c\r\nd") == "abc d"


def hostile_digest() -> Digest:
    bad = item(1, HOSTILE, url="javascript:alert(1)")
    good = item(2, "Good <b>title</b>", url='https://ok.example/"onmouseover="x')
    flags = [flag(10, "C23", "updates", bad, evidence=HOSTILE), flag(11, "C05", "contradicts", good)]
    return digest_of([bad, good], flags)


class Markup(HTMLParser):
    """Every element, attribute and link of an HTML document, as a browser would see them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(k, v or "") for k, v in attrs]

    @property
    def links(self) -> list[str]:
        return [v for k, v in self.attrs if k in ("href", "src", "action", "formaction")]


def assert_inert(html: str) -> Markup:
    seen = Markup(html)
    assert not {"script", "img", "iframe", "object", "embed", "style", "link", "form", "b", "i"} & set(seen.tags)
    assert not [k for k, _ in seen.attrs if k.startswith("on")]
    assert all(link.startswith(("https://", "http://")) for link in seen.links), seen.links
    return seen


def test_html_escapes_hostile_text_and_links() -> None:
    rendered = render_email(hostile_digest(), environment(), prefix="[m]")
    seen = assert_inert(rendered.html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "https://ok.example/%22onmouseover=%22x" in seen.links
    assert "https://news.example/1" not in seen.links  # the javascript: item has no link at all
    assert "javascript:" not in rendered.text.replace(HOSTILE, "")  # no link line for an unsafe URL


def test_markdown_has_no_live_hostile_markup() -> None:
    text = render_markdown(hostile_digest(), environment())
    assert "\\<script\\>alert\\(1\\)\\</script\\>" in text
    seen = assert_inert(MarkdownIt("commonmark").render(text))  # raw HTML on: what a viewer would do
    assert "https://ok.example/%22onmouseover=%22x" in seen.links
    assert "strong" in seen.tags  # our own bold survives; the feed's "**bold**" does not
    assert "**bold**" not in text


def test_message_is_multipart_alternative_utf8_with_encoded_subject() -> None:
    env = environment()
    digest = build_digest(
        "芯片出口管制日报", START, END, DigestInput([item(1, "英伟达H20")], {}, [], CLAIMS, {}, SOURCES)
    )
    msg = compose_message(
        render_email(digest, env, prefix="[监测]"),
        sender="Monitor <monitor@example.org>",
        recipients=["a@example.org", "张三 <b@example.org>"],
        date=END,
        start=START,
        end=END,
    )
    raw = msg.as_bytes()
    assert raw.isascii()
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parsed.iter_parts())
    assert b"=?utf-8?" in raw.split(b"\n\n", 1)[0].lower() or b"=?UTF-8?" in raw
    assert str(parsed["Subject"]).startswith("[监测] 芯片出口管制日报 · 2025-07-16")
    assert parsed["Message-ID"] == msg["Message-ID"] and parsed["Message-ID"].endswith("@example.org>")
    assert parsed["Date"] == "Wed, 16 Jul 2025 07:00:00 +0000"
    assert "张三" in str(parsed["To"])
    body = parsed.get_body(("plain",))
    assert body is not None and "英伟达H20" in body.get_content()
    again = compose_message(
        render_email(digest, env),
        sender="monitor@example.org",
        recipients=["a@example.org"],
        date=END,
        start=START,
        end=END,
    )
    assert (
        again["Message-ID"]
        == compose_message(
            render_email(digest, env),
            sender="monitor@example.org",
            recipients=["x@example.org"],
            date=END,
            start=START,
            end=END,
        )["Message-ID"]
    )  # the same digest keeps its id when resent


def test_atom_feed_is_valid_escaped_and_stable(tmp_path: Path) -> None:
    bad = item(1, HOSTILE, url="javascript:alert(1)")
    good = item(2, "英伟达恢复H20销售", source="cn", lang="zh-Hans")
    flags = [
        flag(10, "C23", "updates", bad, evidence=HOSTILE),
        flag(11, "C23", "supports", good),
        flag(12, "C05", "contradicts", good, state="dismissed"),
    ]
    record = DigestRecord(1, START, END, str(tmp_path / "2025-07-16.md"), 2, END)
    env = environment()

    def feed_text() -> str:
        feed = build_feed(
            "Daily & <digest>",
            END,
            flags=flags,
            digests=[record],
            claims=CLAIMS,
            names={"cn": "中文网"},
            feed_dir=tmp_path,
        )
        return render_feed(feed, env)

    text = feed_text()
    root = ET.fromstring(text.encode())
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    for required in ("a:id", "a:title", "a:updated", "a:author/a:name"):
        assert root.find(required, ns) is not None, required
    entries = root.findall("a:entry", ns)
    assert len(entries) == 3  # two live flags and the digest; the dismissed flag is left out
    for entry in entries:
        assert entry.find("a:id", ns) is not None and entry.find("a:updated", ns) is not None
        assert entry.find("a:title", ns) is not None
    hrefs = [link.get("href") for link in root.iter("{http://www.w3.org/2005/Atom}link")]
    assert "2025-07-16.md" in hrefs and not any(h and h.startswith("javascript") for h in hrefs)
    parsed = feedparser.parse(text.encode())
    assert not parsed.bozo and parsed.version == "atom10"
    assert parsed.feed.title == "Daily & <digest>"
    contents = " ".join(e.content[0].value for e in parsed.entries)
    assert "<script" not in contents and "<img" not in contents and "&lt;script&gt;" in contents
    assert "英伟达将开始向中国销售H20芯片。" in contents
    assert [e.id for e in parsed.entries] == [e.id for e in feedparser.parse(feed_text().encode()).entries]


def test_templates_can_be_overridden_from_the_config_directory(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "subject.txt.j2").write_text("{{ prefix }} custom {{ digest.item_count }}", "utf-8")
    rendered = render_email(digest_of([item(1, "x")], []), environment(tmp_path), prefix="[p]")
    assert rendered.subject == "[p] custom 1"
    assert "Top stories" in rendered.html  # the other templates are still the shipped ones
