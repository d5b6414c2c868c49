"""Decoding HTML pages: BOM, header and meta declarations, detection, wrong labels."""

from __future__ import annotations

import codecs

import pytest

from monitor.collect.decode import declared_charset, decode_html, normalize_charset
from tests.conftest import DATA

PAGES = DATA / "pages"
GB18030_HEADER = {"Content-Type": "text/html; charset=GB18030"}


@pytest.mark.parametrize(
    ("case", "headers", "declared"),
    [
        ("zh_hans_gbk_meta", {}, "gb18030"),  # GBK in <meta http-equiv>, read as its superset
        ("zh_hans_gbk_meta", {"content-type": "text/html"}, "gb18030"),  # header without a charset
        ("zh_hant_big5_nodecl", {}, None),  # no declaration at all: detection
        ("zh_hant_big5_nodecl", {"content-type": "text/html; charset=utf-8"}, "utf-8"),  # wrong label
        ("zh_gb18030_header", GB18030_HEADER, "gb18030"),  # header only; has a 4-byte character
        ("zh_gb18030_header", {"Content-Type": 'text/html; charset="gb2312"'}, "gb18030"),  # label too narrow
    ],
)
def test_pages_decode_to_their_original_text(case: str, headers: dict[str, str], declared: str | None) -> None:
    content = (PAGES / f"{case}.html").read_bytes()
    assert declared_charset(content, headers) == declared
    assert decode_html(content, headers) == (PAGES / f"{case}.decoded.html").read_text("utf-8")


TEXT = "<html><head>{meta}<title>出口管制 – Café</title></head><body><p>輝達 H20 晶片，€15 billion</p></body></html>"
PLAIN = TEXT.format(meta="")


def page(meta: str = "") -> str:
    return TEXT.format(meta=meta)


@pytest.mark.parametrize(
    ("text", "content", "headers", "declared"),
    [
        # The header wins over the meta tag.
        (page('<meta charset="big5">'), page('<meta charset="big5">').encode("gb18030"), GB18030_HEADER, "gb18030"),
        # A BOM wins over both.
        (
            page('<meta charset="gbk">'),
            codecs.BOM_UTF8 + page('<meta charset="gbk">').encode(),
            GB18030_HEADER,
            "utf-8-sig",
        ),
        (PLAIN, codecs.BOM_UTF16_LE + PLAIN.encode("utf-16-le"), {"content-type": "text/html; charset=gbk"}, "utf-16"),
        (PLAIN, codecs.BOM_UTF16_BE + PLAIN.encode("utf-16-be"), {}, "utf-16"),
        # UTF-8 bytes under a legacy label: the label is wrong, never mojibake.
        (PLAIN, PLAIN.encode(), {"content-type": "text/html; charset=iso-8859-1"}, "cp1252"),
        (page('<meta charset="gbk">'), page('<meta charset="gbk">').encode(), {}, "gb18030"),
        # An unknown label is no declaration.
        (PLAIN, PLAIN.encode(), {"content-type": "text/html; charset=x-no-such-charset"}, None),
        # A meta tag saying UTF-16 in an ASCII-compatible page means UTF-8.
        (page('<meta charset="utf-16">'), page('<meta charset="utf-16">').encode(), {}, "utf-8"),
        # A UTF-16 header without a BOM on an ASCII-looking page is mislabelled.
        (PLAIN, PLAIN.encode(), {"content-type": "text/html; charset=utf-16"}, None),
    ],
)
def test_precedence_and_wrong_labels(text: str, content: bytes, headers: dict[str, str], declared: str | None) -> None:
    assert declared_charset(content, headers) == declared
    assert decode_html(content, headers) == text


def test_meta_charset_forms() -> None:
    for meta in (
        b'<meta charset="GBK">',
        b"<meta charset=gbk>",
        b"<META HTTP-EQUIV='Content-Type' CONTENT='text/html; charset=gbk'>",
        b'<meta content="text/html;charset=GBK" http-equiv="content-type" />',
    ):
        assert declared_charset(b"<html><head>" + meta + b"</head></html>", {}) == "gb18030"


def test_declared_codec_that_fails_falls_back_to_detection() -> None:
    text = "美国商务部宣布对人工智能芯片实施新的出口管制措施，涉及多家中国企业和研究机构。" * 3
    content = f"<html><body><p>{text}</p></body></html>".encode("gb18030")
    assert decode_html(content, {"content-type": "text/html; charset=shift_jis"}).count(text[:20]) == 3


def test_ascii_and_empty_pages() -> None:
    assert decode_html(b"<p>plain</p>", {}) == "<p>plain</p>"
    assert decode_html(b"", {}) == ""


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("gb2312", "gb18030"),
        ("GBK", "gb18030"),
        ("x-gbk", "gb18030"),
        ("cp936", "gb18030"),
        ("big5", "big5hkscs"),
        ("Big5-HKSCS", "big5hkscs"),
        ("UTF8", "utf-8"),
        ("latin1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("windows-1252", "cp1252"),
        ("shift_jis", "shift_jis"),
        ("nonsense", None),
        ("", None),
    ],
)
def test_normalize_charset(label: str, codec: str | None) -> None:
    assert normalize_charset(label) == codec
