"""The container files (issue 16): docker-compose.yml valid for Debian's docker-compose (v1, which
rejected the long-form `env_file`) and for Compose v2 where either is installed (CI installs
Debian's); the build context without the virtual environment, the database or the tests; a
`postgres` extra that installs the driver the documentation names (README.md and docs/)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUIRE = os.environ.get("MONITOR_REQUIRE_POSTGRES", "") not in ("", "0")  # set by CI, which installs both


def documentation() -> str:
    """The README and the pages of docs/ it links to, where the commands now live."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(page.read_text(encoding="utf-8") for page in pages)


def compose_commands() -> list[list[str]]:
    commands = []
    if shutil.which("docker-compose"):
        commands.append(["docker-compose"])
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        commands.append(["docker", "compose"])
    return commands


def test_compose_file_is_valid_for_the_installed_compose() -> None:
    commands = compose_commands()
    if not commands:
        if REQUIRE:
            pytest.fail("no docker-compose here: CI installs Debian's (see .ci/run)")
        pytest.skip("neither docker-compose nor docker compose is installed")
    for command in commands:
        for profile in ([], ["--profile", "dev"], ["--profile", "llm"]):
            done = subprocess.run(
                [*command, "-f", str(ROOT / "docker-compose.yml"), *profile, "config", "-q"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                env={k: v for k, v in os.environ.items() if k != "MONITOR_SMTP_PASSWORD"},
            )
            assert done.returncode == 0, f"{command} {profile}: {done.stderr}"


def test_compose_file_has_no_long_form_env_file() -> None:
    """Debian's docker-compose refuses `env_file: [{path: …, required: false}]`: short form only."""
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    assert not any(line.strip().startswith(("path:", "- path:", "required:")) for line in lines)


def test_build_context_leaves_out_what_the_image_does_not_need() -> None:
    ignored = {
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()[:1] not in ("", "#")
    }
    assert {".venv", ".git", "storage", "tests", ".env"} <= ignored
    dockerfile = (ROOT / "Dockerfile").read_text()
    for needed in ("pyproject.toml", "monitor", "config"):  # what the image copies is not ignored
        assert needed in dockerfile and needed not in ignored


def test_postgres_extra_installs_the_driver_the_readme_names() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["postgres"]
    assert any(requirement.startswith("psycopg") for requirement in extra)
    readme = documentation()
    assert '".[postgres]"' in readme and "postgresql+psycopg://" in readme


def test_the_model_server_is_optional_and_the_readme_says_how_to_use_it() -> None:
    """Ollama only under the `llm` profile (a plain `up` never pulls a multi-GB image), on
    loopback only, and the documentation's lines name that service, its URL and the pull."""
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    block = text[text.index("\n  ollama:") :]
    assert 'profiles: ["llm"]' in block and '"127.0.0.1:11434:11434"' in block
    readme = documentation()
    assert "docker compose --profile llm up -d" in readme and "ollama pull" in readme
    assert 'base_url = "http://ollama:11434/v1"' in readme
