"""The HTTP side: review pages with JSON twins under /api/, health and metrics (issue 20)."""
