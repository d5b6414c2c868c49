"""A claim-aware news monitor for AI-chip export controls."""

from __future__ import annotations

__version__ = "0.1.0"
