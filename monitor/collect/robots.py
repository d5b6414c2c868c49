"""robots.txt decisions. Pure: the caller fetches robots.txt and keeps it as it sees fit."""

from __future__ import annotations

from urllib.robotparser import RobotFileParser


def robots_allows(robots_txt: str, user_agent: str, url: str) -> bool:
    """Whether `robots_txt` lets `user_agent` fetch `url` (an empty file allows everything).

    urllib.robotparser matches the product token of `user_agent` (before the first `/`) and
    applies the first matching rule in file order, not Google's longest match.
    """
    parser = RobotFileParser()
    parser.parse(robots_txt.splitlines())
    return parser.can_fetch(user_agent, url)
