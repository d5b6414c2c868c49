"""Calibration: fitted models that turn features into a flag decision and a relation. Pure.

A `Model` is a multinomial logistic regression over named features, standardised, with an L2
penalty, fitted by Newton's method (a few dozen features and a few thousand pairs: exact and
deterministic, no solver to tune). It has `fit` / `predict_proba` in scikit-learn's manner and
saves as plain JSON with its feature names, so a saved fit can be read, compared and rolled back.

A `Calibration` holds three: `flag` (does the item bear on the claim, on every feature),
`flag_lexical` (the same without an encoder) and `relation` (supports / contradicts / updates),
with the decision rule fitted beside them: a flag needs a probability of at least `threshold`,
and an item keeps only the claims within `keep_ratio` of its best one (the usual false alarm is
the wrong claim among claims that share the item's subject).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]
FORMAT = 1
_NEWTON_STEPS = 50


@dataclass
class Model:
    """Multinomial logistic regression over `features`, for `classes` (see the module docstring)."""

    features: tuple[str, ...]
    classes: tuple[str, ...]
    l2: float = 1.0
    mean: Matrix = field(default_factory=lambda: np.zeros(0))
    scale: Matrix = field(default_factory=lambda: np.ones(0))
    weights: Matrix = field(default_factory=lambda: np.zeros((0, 0)))  # (features + 1) x classes

    def fit(self, x: Matrix, y: Sequence[str], sample_weight: Matrix | None = None) -> Model:
        """Fit on rows `x` (columns in `features` order) with labels `y` (each one of `classes`)."""
        self.mean = x.mean(axis=0)
        self.scale = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
        design = self._design(x)
        index = {c: k for k, c in enumerate(self.classes)}
        target = np.zeros((len(y), len(self.classes)))
        target[np.arange(len(y)), [index[label] for label in y]] = 1.0
        w = np.ones(len(y)) if sample_weight is None else sample_weight
        self.weights = _newton(design, target, w, self.l2)
        return self

    def predict_proba(self, x: Matrix) -> Matrix:
        """Each row's probability of each class, columns in `classes` order."""
        return _softmax(self._design(x) @ self.weights)

    def _design(self, x: Matrix) -> Matrix:
        return np.hstack([(x - self.mean) / self.scale, np.ones((len(x), 1))])

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "classes": list(self.classes),
            "l2": self.l2,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weights": self.weights.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        return cls(
            tuple(data["features"]),
            tuple(data["classes"]),
            float(data["l2"]),
            np.array(data["mean"], dtype=np.float64),
            np.array(data["scale"], dtype=np.float64),
            np.array(data["weights"], dtype=np.float64),
        )


def _softmax(z: Matrix) -> Matrix:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


def _newton(design: Matrix, target: Matrix, w: Matrix, l2: float) -> Matrix:
    """Penalised maximum likelihood; the last class's weights stay zero (identifiable), the
    intercept (last row) unpenalised."""
    n, d = design.shape
    k = target.shape[1] - 1
    beta = np.zeros((d, k))
    penalty = np.full(d, l2)
    penalty[-1] = 0.0
    for _ in range(_NEWTON_STEPS):
        p = _softmax(np.hstack([design @ beta, np.zeros((n, 1))]))[:, :k]
        gradient = design.T @ ((p - target[:, :k]) * w[:, None]) + penalty[:, None] * beta
        hessian = np.zeros((d * k, d * k))
        for a in range(k):
            for b in range(k):
                s = w * p[:, a] * ((a == b) - p[:, b])
                hessian[a * d : (a + 1) * d, b * d : (b + 1) * d] = (design * s[:, None]).T @ design
        hessian += np.diag(np.tile(penalty, k)) + 1e-9 * np.eye(d * k)
        step = np.linalg.solve(hessian, gradient.T.reshape(-1)).reshape(k, d).T
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return np.hstack([beta, np.zeros((d, 1))])


@dataclass
class Calibration:
    """The fitted models and decision rule, and what they were fitted on."""

    flag: Model
    flag_lexical: Model
    relation: Model
    threshold: float = 0.5
    keep_ratio: float = 0.5
    max_claims: int = 3
    fitted_on: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "threshold": self.threshold,
            "keep_ratio": self.keep_ratio,
            "max_claims": self.max_claims,
            "fitted_on": self.fitted_on,
            "report": self.report,
            "flag": self.flag.to_json(),
            "flag_lexical": self.flag_lexical.to_json(),
            "relation": self.relation.to_json(),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1, ensure_ascii=False)

    @classmethod
    def loads(cls, text: str) -> Calibration:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"calibration format {data.get('format')!r}, expected {FORMAT}")
        return cls(
            Model.from_json(data["flag"]),
            Model.from_json(data["flag_lexical"]),
            Model.from_json(data["relation"]),
            float(data["threshold"]),
            float(data["keep_ratio"]),
            int(data["max_claims"]),
            dict(data.get("fitted_on", {})),
            dict(data.get("report", {})),
        )
