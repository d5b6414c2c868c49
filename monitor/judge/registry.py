"""The claim registry: the watched articles and their claims, as text and nothing else.

`claims.toml` holds `[[article]]` tables, each with `[[article.claim]]` tables
(docs/claims-and-judge.md, "Claim registry"). A claim is its id and its text in any language;
`quote` is optional (the article's own words: found in the article's text when absent). No term
list, rule or threshold is written for a claim: the judge reads the text. Validated models only,
no I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CLAIM_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"
ARTICLE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_LANGUAGE = re.compile(r"^(en|zh|zh-Hans|zh-Hant)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ClaimText(_Strict):
    """One `[[article.claim]]`: an id, the claim as text, and optionally the article's own words."""

    id: str = Field(pattern=CLAIM_ID)
    text: str = Field(min_length=1)
    quote: str | None = None

    @field_validator("text", "quote")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value.strip() if value is not None else None


class Article(_Strict):
    """One `[[article]]`: the article the claims come from. `published` matters: news after it
    may update a claim, news before it may show the claim was already wrong. `text` is a path
    relative to the config directory (the loader reads it into `body`)."""

    id: str = Field(pattern=ARTICLE_ID)
    title: str | None = None
    published: dt.date | None = None
    language: str | None = None
    text: str | None = None
    url: str | None = None
    claims: tuple[ClaimText, ...] = Field(default=(), alias="claim")
    body: str | None = Field(default=None, exclude=True, description="the article's text, read by the loader")

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is not None and not _LANGUAGE.match(value):
            raise ValueError("must be en, zh, zh-Hans or zh-Hant")
        return value


@dataclass(frozen=True, slots=True)
class Claim:
    """A claim with what the judge needs of its article."""

    id: str
    text: str
    quote: str | None
    article_id: str
    article_published: dt.date | None
    article_language: str | None


class Registry(_Strict):
    """The whole claims.toml: every article; claim ids unique across them."""

    articles: tuple[Article, ...] = Field(default=(), alias="article")

    @model_validator(mode="after")
    def _unique(self) -> Registry:
        seen: set[str] = set()
        for article in self.articles:
            for claim in article.claims:
                if claim.id in seen:
                    raise ValueError(f"duplicate claim id {claim.id!r}")
                seen.add(claim.id)
        if len({a.id for a in self.articles}) != len(self.articles):
            raise ValueError("duplicate article id")
        return self

    @property
    def claims(self) -> tuple[Claim, ...]:
        """Every claim of every article, in registry order."""
        return tuple(
            Claim(c.id, c.text, c.quote, a.id, a.published, a.language) for a in self.articles for c in a.claims
        )

    def claim(self, claim_id: str) -> Claim | None:
        return next((c for c in self.claims if c.id == claim_id), None)

    def article(self, article_id: str) -> Article | None:
        return next((a for a in self.articles if a.id == article_id), None)
