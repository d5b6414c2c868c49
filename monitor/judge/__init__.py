"""The judge: what a news item does to the claims of the articles the reader watches.

Owns the claim registry (articles and their claims, as text), the text encoder, the features of
an (item, claim) pair, the fitted calibration that turns them into flags, and the evaluation on
labelled items. Nothing here is written for one claim: every claim is handled from its text.
Imports only the shared modules (`monitor.settings`, `monitor.records`, `monitor.errors`,
`monitor.backoff`, `monitor.text`); no storage, CLI or service. Its public names, below, are
what the other stages may use of it (the digest shows claims).
"""

from monitor.judge.registry import Article, Claim, Registry

__all__ = ["Article", "Claim", "Registry"]
