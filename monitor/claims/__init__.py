"""The claim registry and the matcher: what a news item does to the watched article's claims."""
