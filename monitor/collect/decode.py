"""Bytes of an HTML page → text, by the charset the page declares or, failing that, detection.

Precedence: a byte-order mark, then the Content-Type header, then a `<meta>` tag. A declared
codec is used only if it decodes the whole page strictly; otherwise the next declaration is
tried, and then charset-normalizer's detection, so that a wrong label never yields mojibake.
Without a BOM, bytes that are valid non-ASCII UTF-8 are read as UTF-8 whatever the label says.
`decode_html_noting` also says when the first declaration was wrong, for the source's warning.

Detection is ambiguous on short texts (four GBK characters decode without fault as Big5, CP949
and Shift JIS too), so among the candidates it finds about equally plausible the codecs of this
monitor's sources win: Chinese, then Western.

Pure functions, no I/O.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Labels whose usual meaning is a larger codec: pages labelled gb2312 routinely use GBK
# characters, GBK ones GB18030 characters; Big5 pages use HKSCS or Microsoft extensions;
# browsers read latin-1 and ascii as windows-1252.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "big5": "big5hkscs",
    "latin_1": "cp1252",
    "ascii": "cp1252",
    "iso8859_1": "cp1252",
}
# Labels browsers know and Python does not.
_ALIASES = {"x-gbk": "gbk", "gb_2312-80": "gb2312", "x-sjis": "shift_jis", "x-euc-jp": "euc_jp", "x-big5": "big5"}
# A page that says it is UTF-16 in a <meta> was necessarily read as ASCII to find it.
_WIDE = {"utf_16", "utf_16_le", "utf_16_be", "utf_32", "utf_32_le", "utf_32_be"}
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([\w.:+-]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([\w.:+-]+)""", re.IGNORECASE)
# Far enough to pass the long scripts and comments some pages put before their <meta>.
META_SCAN_BYTES = 8192
# Preferred among near ties of detection, in this order (charset-normalizer's names).
_PREFERRED = ("gb18030", "big5", "big5hkscs", "cp1252")
# Candidates whose chaos (charset-normalizer's mess ratio, 0 to 1) is within this of the least tie.
_NEAR_TIE = 0.025


def decode_html(content: bytes, headers: dict[str, str]) -> str:
    """The text of an HTML page; never mojibake from a wrong declaration."""
    return decode_html_noting(content, headers)[0]


def decode_html_noting(content: bytes, headers: dict[str, str]) -> tuple[str, str | None]:
    """The text of an HTML page, and a note when its first declaration did not decode it
    ("declared utf-8 but the bytes are gb18030; decoded as gb18030")."""
    declared = _declarations(content, headers)
    candidates = list(declared)
    if _bom_codec(content) is None and _is_utf8_text(content):
        # Legacy text is all but never valid UTF-8 by chance (UTF-8 needs exact lead and
        # continuation byte patterns), so trying UTF-8 first only corrects wrong labels.
        candidates.insert(0, "utf-8")
    for codec in candidates:
        if (text := _decoded(content, codec)) is not None:
            return text, _wrong_label_note(declared, codec)
    detected = detect_charset(content)
    if detected is None:  # hardly ever: some single-byte codec decodes nearly any bytes
        note = f"declared {declared[0]} but no codec decodes the bytes; decoded as utf-8, with replacements"
        return content.decode("utf-8", errors="replace"), note if declared else None
    return content.decode(detected), _wrong_label_note(declared, detected)


def _wrong_label_note(declared: list[str], used: str) -> str | None:
    if not declared or declared[0] == used:
        return None
    return f"declared {declared[0]} but the bytes are {used}; decoded as {used}"


def declared_charset(content: bytes, headers: dict[str, str]) -> str | None:
    """The codec the page declares (BOM, else header, else meta) as a Python codec name,
    widened to its superset (gbk → gb18030); None when nothing usable is declared."""
    declared = _declarations(content, headers)
    return declared[0] if declared else None


def _declarations(content: bytes, headers: dict[str, str]) -> list[str]:
    """Codecs to try in order of precedence, without repeats."""
    found: list[str] = []
    for codec in (_bom_codec(content), _header_charset(content, headers), _meta_charset(content)):
        if codec and codec not in found:
            found.append(codec)
    return found


def _is_utf8_text(content: bytes) -> bool:
    if content.isascii():
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _bom_codec(content: bytes) -> str | None:
    for bom, codec in _BOMS:
        if content.startswith(bom):
            return codec
    return None


def _header_charset(content: bytes, headers: dict[str, str]) -> str | None:
    for key, value in headers.items():
        if key.lower() == "content-type" and (match := _HEADER_CHARSET.search(value)):
            codec = normalize_charset(match.group(1))
            # UTF-16/32 without a BOM is recognisable by its NULs; an ASCII-looking body is mislabelled.
            return None if _is_wide(codec) and b"\x00" not in content[:256] else codec
    return None


def _meta_charset(content: bytes) -> str | None:
    match = _META_CHARSET.search(content[:META_SCAN_BYTES])
    if not match:
        return None
    codec = normalize_charset(match.group(1).decode("ascii", "replace"))
    return "utf-8" if _is_wide(codec) else codec


def _is_wide(codec: str | None) -> bool:
    return codec is not None and codec.replace("-", "_") in _WIDE


def normalize_charset(label: str) -> str | None:
    """A charset label as the Python codec to decode it with; None for an unknown label."""
    label = label.strip().strip("\"'").lower()
    try:
        name = codecs.lookup(_ALIASES.get(label, label)).name
    except (LookupError, ValueError):
        return None
    key = name.replace("-", "_")
    if key in ("utf_8", "utf_8_sig"):
        return "utf-8"
    return _SUPERSETS.get(key, name)


def detect_charset(content: bytes) -> str | None:
    """The codec detection finds most plausible for the bytes, as `normalize_charset` names it
    (else as detected, when the wider codec fails on them); Chinese, then Western, codecs win
    near ties. None when no codec decodes them."""
    matches = list(charset_normalizer.from_bytes(content))
    if not matches:
        return None
    least = min(match.chaos for match in matches)
    close = [match.encoding for match in matches if match.chaos <= least + _NEAR_TIE]
    chosen = next((name for name in _PREFERRED if name in close), close[0])
    for codec in (normalize_charset(chosen), chosen):
        if codec and _decodes(content, codec):
            return codec
    return None


def _decodes(content: bytes, codec: str) -> bool:
    return _decoded(content, codec) is not None


def _decoded(content: bytes, codec: str) -> str | None:
    try:
        return content.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None
