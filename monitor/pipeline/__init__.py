"""Orchestration: the poll cycle, the digest run, evaluation on labelled items, and building the
judge from the configuration.

The one place where collect, keep, judge, tell and storage meet: it may import any of them;
nothing but `monitor.service`, `monitor.worker`, `monitor.web` and `monitor.cli` imports it.
"""
