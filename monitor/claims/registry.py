"""The claim registry (`claims.toml`): the watched article's claims and what matching needs.

Validated models only; the matcher compiles them. Terms may name an entity as `@id`, which
stands for all of its aliases (English and both Chinese scripts). See README, "Claim registry".
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Relation = Literal["supports", "contradicts", "updates"]
RELATIONS: tuple[Relation, ...] = ("supports", "contradicts", "updates")
_MONTH = re.compile(r"^(19|20)\d{2}(-(0[1-9]|1[0-2]))?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Entity(_Strict):
    """A thing claims talk about, with its names: `@id` in any term list stands for them all."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    aliases: tuple[str, ...] = Field(min_length=1)


class Quantity(_Strict):
    """A number the claim states. In a sentence that names `near` terms, a number in the same
    unit within `tolerance` supports the claim; one outside contradicts it."""

    measure: str = Field(description="what is measured, for people")
    value: float
    high: float | None = Field(default=None, description="the top of a range the claim states (50–80%)")
    unit: str = Field(description="USD, CNY, %, TOPS, TFLOPS, nm, x")
    tolerance: float = Field(default=0.2, ge=0, le=1, description="relative")
    near: tuple[str, ...] = Field(min_length=1, description="terms that must share the sentence")
    relation_if_different: Relation = "contradicts"


class DateFact(_Strict):
    """A date the claim states (YYYY or YYYY-MM): the same date beside `near` terms supports the
    claim, another one contradicts it."""

    about: str
    value: str
    near: tuple[str, ...] = Field(min_length=1)

    @field_validator("value")
    @classmethod
    def _month(cls, value: str) -> str:
        if not _MONTH.match(value):
            raise ValueError("must be YYYY or YYYY-MM")
        return value


class Signal(_Strict):
    """A kind of development that bears on the claim: every group in `when` must have a term in
    one sentence (each group: any of its terms)."""

    relation: Relation
    when: tuple[tuple[str, ...], ...] = Field(min_length=1)
    weight: float = Field(default=1.0, gt=0)
    unless: tuple[str, ...] = Field(default=(), description="terms that, in the sentence, cancel the signal")
    note: str | None = None

    @field_validator("when")
    @classmethod
    def _groups(cls, when: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        if any(not group for group in when):
            raise ValueError("an empty term group")
        return when


class ClaimSpec(_Strict):
    """One `[[claim]]`: the claim in both languages, its anchors and its signals."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    text_zh: str | None = None
    statement_en: str | None = None
    time: str | None = Field(default=None, description="the time the claim speaks of, YYYY or YYYY-MM")
    anchors: tuple[str, ...] = Field(default=(), description="claim-specific terms: one must be in the evidence")
    terms: tuple[str, ...] = Field(default=(), description="key terms: raise the score")
    quantities: tuple[Quantity, ...] = Field(default=(), alias="quantity")
    dates: tuple[DateFact, ...] = Field(default=(), alias="date")
    signals: tuple[Signal, ...] = Field(default=(), alias="signal")

    @field_validator("time")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        if value is not None and not _MONTH.match(value):
            raise ValueError("must be YYYY or YYYY-MM")
        return value


class Registry(_Strict):
    """The whole claims.toml."""

    entities: tuple[Entity, ...] = Field(default=(), alias="entity")
    claims: tuple[ClaimSpec, ...] = Field(default=(), alias="claim")

    @model_validator(mode="after")
    def _references(self) -> Registry:
        known = {e.id for e in self.entities}
        if len(known) != len(self.entities):
            raise ValueError("duplicate entity id")
        for claim in self.claims:
            for term in referenced_terms(claim):
                if term.startswith("@") and term[1:] not in known:
                    raise ValueError(f"claim {claim.id}: unknown entity {term!r}")
        return self

    def aliases(self, term: str) -> tuple[str, ...]:
        """A term, or the aliases of the entity `@id` names."""
        if term.startswith("@"):
            for entity in self.entities:
                if entity.id == term[1:]:
                    return entity.aliases
        return (term,)


def referenced_terms(claim: ClaimSpec) -> list[str]:
    terms = [*claim.anchors, *claim.terms]
    for q in claim.quantities:
        terms.extend(q.near)
    for d in claim.dates:
        terms.extend(d.near)
    for s in claim.signals:
        for group in s.when:
            terms.extend(group)
        terms.extend(s.unless)
    return terms
