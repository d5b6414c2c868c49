"""Shingles and MinHash signatures of texts, as near-duplicate detection (`monitor.keep.neardup`)
compares them.

Shingles are word 3-shingles for English and character 4-grams for Chinese (a Chinese word is one
to two characters, so four characters span about as much as three English words), both taken from
the folded text (`fold_text`: traditional → simplified, NFKC, case-folded), so a traditional
reprint of a simplified original compares like a simplified one.

A signature is the 256-value MinHash of a text's shingle hashes (datasketch, `affine32` scheme,
fixed seed); its values are what is stored (`Signature.to_bytes` / `from_bytes` round-trip them).
A text of fewer than `MIN_SHINGLES` (50, about a paragraph) shingles gets none: too short to
trust. `band_keys` cuts a signature into the bands the index searches by.

Items are small (a headline and a summary: a few dozen shingles), so numpy's per-call overhead,
not the arithmetic, is most of the cost of one text at a time: `signatures` hashes the texts of a
batch together (their shingles across the joined texts, MinHash in fixed-size blocks).

Pure: no I/O.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, compress

import numpy as np
from numpy.typing import NDArray

from monitor.text.normalize import fold_text

NUM_PERM = 256
SEED = 1
SCHEME = "affine32"
EN_SHINGLE_WORDS = 3
ZH_SHINGLE_CHARS = 4
MIN_SHINGLES = 50
BANDS = 64
ROWS = 2

_MAGIC = b"MH1\x00"
_HEADER = len(_MAGIC) + 4
_WORD = re.compile(r"\w+")
_NOT_WORD = re.compile(r"[\W_]+")
_POSITION_MIX = np.array([0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93], np.uint64)
_ROW_MIX = np.uint32(0x9E3779B1)
_SHIFT = np.uint64(32)
_LOW = np.uint64(0xFFFFFFFF)
_BLOCK = 512  # shingle hashes per MinHash step: 0.5 MB of temporaries, reused


@dataclass(frozen=True, slots=True, eq=False)
class Signature:
    """MinHash values of a text's shingles (uint32, `NUM_PERM` of them) and how many shingles."""

    values: NDArray[np.uint32]
    size: int

    def to_bytes(self) -> bytes:
        header = _MAGIC + self.size.to_bytes(4, "little")
        return header + self.values.astype("<u4", copy=False).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        if data[: len(_MAGIC)] != _MAGIC or len(data) != _HEADER + 4 * NUM_PERM:
            raise ValueError("not a near-duplicate signature of this version")
        size = int.from_bytes(data[len(_MAGIC) : _HEADER], "little")
        values = np.frombuffer(data, dtype="<u4", offset=_HEADER).astype(np.uint32)
        return cls(values, size)

    def jaccard(self, other: Signature) -> float:
        """Estimated Jaccard similarity of the two shingle sets."""
        return float(np.count_nonzero(self.values == other.values)) / NUM_PERM

    def band_keys(self) -> NDArray[np.uint32]:
        """One 32-bit key per band of `ROWS` values; the band number is mixed in."""
        return band_keys(self.values[None, :])[0]  # type: ignore[no-any-return]


def band_keys(values: NDArray[np.uint32]) -> NDArray[np.uint32]:
    """`Signature.band_keys` of each row of signature values."""
    rows = values[:, : BANDS * ROWS].reshape(len(values), BANDS, ROWS)
    return (rows[:, :, 0] * _ROW_MIX + rows[:, :, 1]) ^ _band_salt()


@lru_cache(maxsize=1)
def _band_salt() -> NDArray[np.uint32]:
    """A fixed random word per band, so equal values in different bands give different keys."""
    return np.random.default_rng(SEED).integers(0, 1 << 32, size=BANDS, dtype=np.uint32)


def is_chinese(lang: str) -> bool:
    return lang.lower().startswith("zh")


def _units(folded_text: str, lang: str) -> list[str] | str:
    """What shingles are made of: words (English) or the characters of the text without
    spaces and punctuation (Chinese; Latin letters and digits included)."""
    return _NOT_WORD.sub("", folded_text) if is_chinese(lang) else _WORD.findall(folded_text)


def shingles(folded_text: str, lang: str) -> set[str]:
    """Word 3-shingles (English) or character 4-grams (Chinese) of already folded text."""
    units = _units(folded_text, lang)
    if isinstance(units, str):
        n = ZH_SHINGLE_CHARS
        return {units[i : i + n] for i in range(len(units) - n + 1)}
    n = EN_SHINGLE_WORDS
    return {" ".join(units[i : i + n]) for i in range(len(units) - n + 1)}


def shingle_hashes(folded_text: str, lang: str) -> NDArray[np.uint32]:
    """Distinct 32-bit hashes of `shingles(folded_text, lang)`, computed without building the
    strings: each unit is hashed once (CRC-32 of a word, the code point of a character) and each
    run of n units combined by multiplying with per-position odd constants. Stable across
    processes and platforms, as stored signatures require."""
    return _shingle_runs([folded_text], is_chinese(lang))[0]


def signatures(texts: Sequence[tuple[str, str]]) -> list[Signature | None]:
    """`signature_of(shingle_hashes(folded, lang))` of each (folded text, language), all of a
    language at once: per text, numpy's call overhead costs more than the arithmetic."""
    found: list[Signature | None] = [None] * len(texts)
    for chinese in (False, True):
        picked = [k for k, (_, lang) in enumerate(texts) if is_chinese(lang) is chinese]
        if not picked:
            continue
        values, counts = _shingle_runs([texts[k][0] for k in picked], chinese)
        enough = counts >= MIN_SHINGLES
        if enough.any():
            kept = counts[enough]
            rows = _minhashes(values[np.repeat(enough, counts)], kept)
            for k, row, size in zip(compress(picked, enough.tolist()), rows, kept.tolist(), strict=True):
                found[k] = Signature(row, size)
    return found


def _unit_codes(folded_texts: Sequence[str], chinese: bool) -> tuple[NDArray[np.uint64], NDArray[np.intp]]:
    """The hashed units of all the texts in one array (CRC-32 of a word, the code point of a
    character), and how many each text has."""
    if chinese:
        units = [_NOT_WORD.sub("", t) for t in folded_texts]
        codes = np.frombuffer("".join(units).encode("utf-32-le"), dtype="<u4").astype(np.uint64)
        return codes, np.fromiter(map(len, units), dtype=np.intp, count=len(units))
    words = [_WORD.findall(t) for t in folded_texts]
    counts = np.fromiter(map(len, words), dtype=np.intp, count=len(words))
    flat = list(chain.from_iterable(words))
    distinct = list(dict.fromkeys(flat))  # words repeat: each is hashed once
    crc = dict(zip(distinct, map(zlib.crc32, map(str.encode, distinct)), strict=True))
    return np.fromiter(map(crc.__getitem__, flat), dtype=np.uint64, count=len(flat)), counts


def _shingle_runs(folded_texts: Sequence[str], chinese: bool) -> tuple[NDArray[np.uint32], NDArray[np.intp]]:
    """Each text's distinct shingle hashes, sorted, all in one array; and how many each has.
    Windows are hashed across the joined texts, those straddling two texts dropped."""
    codes, lengths = _unit_codes(folded_texts, chinese)
    n = ZH_SHINGLE_CHARS if chinese else EN_SHINGLE_WORDS
    count = len(codes) - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint32), np.zeros(len(lengths), dtype=np.intp)
    mixed = np.zeros(count, dtype=np.uint64)
    for j in range(n):
        mixed ^= codes[j : j + count] * _POSITION_MIX[j]
    mixed ^= mixed >> np.uint64(29)
    hashes = (mixed ^ (mixed >> np.uint64(32))).astype(np.uint32)
    owner = np.repeat(np.arange(len(lengths), dtype=np.uint64), lengths)[:count]  # text of each window's start
    whole = np.arange(n, count + n) <= np.cumsum(lengths)[owner.astype(np.intp)]
    keyed = sorted_unique((owner[whole] << _SHIFT) | hashes[whole])
    runs = np.bincount((keyed >> _SHIFT).astype(np.intp), minlength=len(lengths))
    return (keyed & _LOW).astype(np.uint32), runs


def sorted_unique(values: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """`np.unique` by sorting: numpy's hashing `unique` is several times slower on these arrays."""
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


@lru_cache(maxsize=1)
def _permutations() -> tuple[NDArray[np.uint32], NDArray[np.uint32]]:
    """datasketch's permutations (h → a·h + b mod 2³², `a` odd) for `NUM_PERM`, `SEED`, `affine32`,
    drawn as its `MinHash._init_permutations` draws them: importing datasketch costs about 70 MB and
    half a second per process. The tests compare them with datasketch's own."""
    gen = np.random.RandomState(SEED)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


def signature_of(hashes: NDArray[np.uint32]) -> Signature | None:
    """The MinHash signature of a set of shingle hashes; None when too few to trust. The values
    are those of datasketch's `MinHash(NUM_PERM, SEED, scheme="affine32")` fed the same hashes
    (computed here in numpy steps rather than through its per-value hash function)."""
    if len(hashes) < MIN_SHINGLES:
        return None
    return Signature(_minhashes(hashes, np.array([len(hashes)], dtype=np.intp))[0], len(hashes))


def _minhashes(values: NDArray[np.uint32], counts: NDArray[np.intp]) -> NDArray[np.uint32]:
    """The MinHash values of consecutive runs of `values` (run k has `counts[k]` ≥ 1 of them),
    one row per run. Computed `_BLOCK` values at a time (long runs cut into pieces), so the
    temporaries stay small however long a text is."""
    a, b = _permutations()
    mixed = _fmix32(values)
    starts = np.cumsum(counts) - counts
    cuts = np.union1d(starts, np.arange(0, len(values), _BLOCK))  # where each piece starts
    bounds = np.searchsorted(cuts, np.arange(0, len(values) + _BLOCK, _BLOCK)).tolist()
    block = np.empty((NUM_PERM, _BLOCK), dtype=np.uint32)  # reused: no fresh pages per step
    pieces = []
    for n, lo in enumerate(range(0, len(values), _BLOCK)):
        part = mixed[lo : lo + _BLOCK]
        hashed = np.multiply.outer(a, part, out=block[:, : len(part)])
        hashed += b[:, None]
        pieces.append(np.minimum.reduceat(hashed, cuts[bounds[n] : bounds[n + 1]] - lo, axis=1))
    mins = np.minimum.reduceat(np.concatenate(pieces, axis=1), np.searchsorted(cuts, starts), axis=1)
    return np.ascontiguousarray(mins.T)


def _fmix32(h: NDArray[np.uint32]) -> NDArray[np.uint32]:
    """MurmurHash3's finalizer, the pre-mix datasketch's `affine32` scheme applies to each hash."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signature(text: str, lang: str) -> Signature | None:
    """The signature of a raw text in a language (`en`, `zh-Hans`, `zh-Hant`); None when short."""
    return signature_of(shingle_hashes(fold_text(text), lang))
