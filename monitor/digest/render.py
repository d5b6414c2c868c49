"""Render a digest as Markdown from a Jinja2 template; untrusted text is neutralised.

Pure: a `Digest` in, text out. A template of the same name in the config directory's
`templates/` folder overrides the shipped one.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, urlsplit

from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined

from monitor.digest.build import Digest

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")


def md_text(value: object) -> str:
    """Untrusted text made inert in Markdown: one line, every markup character escaped."""
    text = re.sub(r"\s+", " ", str(value or "")).strip()
    return _MD_SPECIAL.sub(r"\\\1", text)


def safe_url(value: object) -> str | None:
    """An http(s) URL fit for a link target, or None."""
    url = str(value or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(url, safe=":/?#@!$&'*+,;=%~-._")


def md_link(text: object, url: object) -> str:
    target = safe_url(url)
    label = md_text(text) or "(untitled)"
    return f"[{label}](<{target}>)" if target else label


def environment(config_dir: Path | None = None) -> Environment:
    loaders: list[BaseLoader] = []
    if config_dir is not None and (config_dir / "templates").is_dir():
        loaders.append(FileSystemLoader(config_dir / "templates"))
    loaders.append(PackageLoader("monitor.digest", "templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md_text, md_link=md_link, safe_url=safe_url)
    return env


def render_markdown(digest: Digest, env: Environment) -> str:
    return env.get_template("digest.md.j2").render(digest=digest)
