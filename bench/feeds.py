"""Generated feeds for the benchmarks: English and Chinese (simplified and traditional), RSS 2.0
and Atom 1.0, deterministic for a seed.

Each item is built from the sentences of the dev corpus (`shared/corpus/dev/items.jsonl`: real
news on the monitored topic, so relevance and claim matching do real work) or from off-topic
filler, as most items of general tech feeds are; summaries carry HTML markup and entities, as
real feeds' do. About one item in ten is a copy of another feed's item (same link or same text),
so cross-source dedupe decides something. Hosts are loopback addresses 127.0.0.2, 127.0.0.3, …
(the monitor keeps one HTTP client per host; real feeds are spread over many hosts).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

DEV = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dev" / "items.jsonl"
NOW = datetime(2025, 9, 1, 12, tzinfo=UTC)
LANGS = (("en", 0.6), ("zh-Hans", 0.25), ("zh-Hant", 0.15))
ON_TOPIC = 0.35  # the share of items built from the dev corpus

EN_WORDS = [
    "market",
    "quarter",
    "revenue",
    "launch",
    "phone",
    "laptop",
    "update",
    "cloud",
    "service",
    "customers",
    "analysts",
    "growth",
    "software",
    "battery",
    "display",
    "camera",
    "network",
    "privacy",
    "startup",
    "funding",
    "investors",
    "retail",
    "sales",
    "shipping",
    "prices",
    "energy",
    "weather",
    "football",
    "league",
    "coach",
    "season",
    "film",
    "festival",
    "album",
    "concert",
    "museum",
    "travel",
    "airline",
    "hotel",
    "city",
    "council",
    "transport",
    "rail",
    "housing",
    "school",
    "students",
    "health",
    "hospital",
    "research",
    "study",
    "climate",
    "ocean",
    "forest",
]
ZH_CHARS = (
    "市场季度营收发布手机电脑更新云服务客户分析增长软件电池屏幕相机网络隐私创业融资投资零售销售运输价格能源"
    "天气足球联赛教练赛季电影节专辑音乐会博物馆旅游航空酒店城市交通铁路住房学校学生健康医院研究气候海洋森林"
)
ZH_TRAD = str.maketrans(
    "发电云务销输价气联赛练节专辑乐馆游航铁学医研纲", "發電雲務銷輸價氣聯賽練節專輯樂館遊航鐵學醫研綱"
)


@dataclass(frozen=True)
class Feed:
    """One generated feed document and where it is served."""

    host: str
    port: int
    path: str
    lang: str
    kind: str  # rss | atom
    body: bytes
    items: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    @property
    def content_type(self) -> str:
        return "application/atom+xml; charset=utf-8" if self.kind == "atom" else "application/rss+xml; charset=utf-8"

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'

    @property
    def gzipped(self) -> bytes:
        return gzip.compress(self.body, compresslevel=6, mtime=0)


@dataclass
class _Entry:
    guid: str
    link: str
    title: str
    summary: str  # HTML
    published: datetime


def _dev_sentences() -> dict[str, list[tuple[str, list[str]]]]:
    """(title, sentences of summary and body) of each dev corpus item, by language."""
    by_lang: dict[str, list[tuple[str, list[str]]]] = {"en": [], "zh-Hans": [], "zh-Hant": []}
    for line in DEV.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            text = f"{row['summary']} {row['body']}"
            parts = re.split(r"(?<=[.!?。！？])\s*", text)
            by_lang[row["lang"]].append((row["title"], [p for p in parts if len(p) > 8]))
    return by_lang


def _filler(rng: random.Random, lang: str, words: int) -> str:
    if lang == "en":
        text = " ".join(rng.choice(EN_WORDS) for _ in range(words))
        return text[:1].upper() + text[1:] + "."
    text = "".join(rng.choice(ZH_CHARS) for _ in range(int(words * 1.6)))
    return (text.translate(ZH_TRAD) if lang == "zh-Hant" else text) + "。"


def _off_topic(rng: random.Random, lang: str, stamp: str) -> tuple[str, list[str]]:
    title = _filler(rng, lang, rng.randint(6, 10)).rstrip(".。") + f" {stamp}"
    return title, [_filler(rng, lang, rng.randint(10, 20)) for _ in range(rng.randint(1, 3))]


def _entry(
    rngs: tuple[random.Random, random.Random],
    lang: str,
    host: str,
    feed_no: int,
    n: int,
    dev: dict[str, list[tuple[str, list[str]]]],
    on_topic: float = ON_TOPIC,
) -> _Entry:
    """One item: on topic (built from a dev corpus item) with probability `on_topic` (at most
    `ON_TOPIC`, about a third), else filler. The main generator draws as for `ON_TOPIC`; an item
    it makes on topic becomes filler with probability 1 - on_topic / ON_TOPIC, drawn from the
    second generator, so a lower share leaves every other draw (languages, copies) as it was."""
    rng, alt = rngs
    stamp = f"{feed_no}-{n}"
    sep = " " if lang == "en" else ""
    if rng.random() < ON_TOPIC and dev[lang]:
        title, sentences = rng.choice(dev[lang])
        chosen = rng.sample(sentences, k=min(len(sentences), rng.randint(1, 3)))
        title = f"{title} ({stamp})" if lang == "en" else f"{title}（{stamp}）"
        if alt.random() >= on_topic / ON_TOPIC:
            title, chosen = _off_topic(alt, lang, stamp)
    else:
        title, chosen = _off_topic(rng, lang, stamp)
    chosen.append(_filler(rng, lang, 8) + (f" Ref {stamp}." if lang == "en" else f"编号{stamp}。"))
    link = f"http://{host}/news/{feed_no}/{n}.html?utm_source=rss&utm_medium=feed"
    body = sep.join(escape(s) for s in chosen)
    summary = f'<p>{body}</p><p><a href="{link}">{"Read more" if lang == "en" else "阅读全文"}</a> &raquo;</p>'
    published = NOW - timedelta(minutes=feed_no * 7 + n * 53)
    return _Entry(f"urn:bench:{stamp}", link, title, summary, published)


def _rss(title: str, lang: str, link: str, entries: list[_Entry]) -> bytes:
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>{link}</link><language>{lang}</language>",
        f"<description>Generated feed {escape(title)}</description>",
    ]
    for e in entries:
        out.append(
            f"<item><title>{escape(e.title)}</title><link>{escape(e.link)}</link>"
            f'<guid isPermaLink="false">{e.guid}</guid><pubDate>{format_datetime(e.published)}</pubDate>'
            f"<description>{escape(e.summary)}</description></item>"
        )
    out.append("</channel></rss>\n")
    return "\n".join(out).encode("utf-8")


def _atom(title: str, lang: str, link: str, entries: list[_Entry]) -> bytes:
    out = [
        f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{lang}">',
        f'<title>{escape(title)}</title><link href="{link}"/><id>{link}</id>',
        f"<updated>{NOW.isoformat()}</updated>",
    ]
    for e in entries:
        out.append(
            f'<entry><title>{escape(e.title)}</title><link href="{escape(e.link)}"/><id>{e.guid}</id>'
            f"<updated>{e.published.isoformat()}</updated><published>{e.published.isoformat()}</published>"
            f'<summary type="html">{escape(e.summary)}</summary></entry>'
        )
    out.append("</feed>\n")
    return "\n".join(out).encode("utf-8")


def hosts(count: int) -> list[str]:
    """`count` loopback addresses from 127.0.0.2 on."""
    return [f"127.0.{(n + 2) // 256}.{(n + 2) % 256}" for n in range(count)]


def generate(
    port: int, feeds: int = 500, items: int = 50, host_count: int = 50, seed: int = 9, on_topic: float = ON_TOPIC
) -> list[Feed]:
    """`feeds` feeds of `items` items each, spread over `host_count` loopback hosts at `port`;
    `on_topic`: the share of items built from the dev corpus (0: every item filler; at most
    `ON_TOPIC`, the default)."""
    if not 0 <= on_topic <= ON_TOPIC:
        raise ValueError(f"on_topic must be within 0 and {ON_TOPIC}")
    rng, alt = random.Random(seed), random.Random(seed + 1)
    dev = _dev_sentences()
    addresses = hosts(host_count)
    made: list[Feed] = []
    earlier: list[_Entry] = []
    for feed_no in range(feeds):
        host = addresses[feed_no % len(addresses)]
        lang = rng.choices([lang for lang, _ in LANGS], [w for _, w in LANGS])[0]
        kind = "atom" if feed_no % 2 else "rss"
        entries = [_entry((rng, alt), lang, host, feed_no, n, dev, on_topic) for n in range(items)]
        for entry in entries:
            if earlier and rng.random() < 0.1:  # a copy of an earlier feed's item: same link, or same text
                other = rng.choice(earlier)
                if rng.random() < 0.5:
                    entry.link = other.link
                else:
                    entry.title, entry.summary = other.title, other.summary
        earlier.extend(entries[::10])
        path = f"/feeds/{feed_no}.xml"
        title = f"Bench feed {feed_no}"
        body = (_atom if kind == "atom" else _rss)(title, lang, f"http://{host}/", entries)
        made.append(Feed(host, port, path, lang, kind, body, items))
    return made
