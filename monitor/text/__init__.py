"""Text shared by every stage: normal forms (canonical URLs, plain and folded text, scripts,
dates, language), many-term matching, and the Chinese–English dictionary.

Shared, like `monitor.settings` and `monitor.records`: imports only those and itself.
"""
