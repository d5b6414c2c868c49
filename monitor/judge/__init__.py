"""The judge: what a news item does to the claims of the articles the reader watches.

Owns the claim registry (articles and their claims, as text), the text encoder, the features of
an (item, claim) pair, the fitted calibration that turns them into flags, and the evaluation on
labelled items. Nothing here is written for one claim: every claim is handled from its text.
Imports only shared records, text normalisation and errors; no storage, CLI or service.
"""
