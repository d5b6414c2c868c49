"""Building the judge from the config: the registry, the encoder `[judge]` names, the calibration.

The calibration in force is, first, the file `[judge] calibration` names; else the one `monitor
judge fit` wrote beside the database (`judge-calibration.json` in the storage directory); else
the one shipped with the monitor, fitted on the first article's labelled items only.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from monitor.config import Config
from monitor.errors import ConfigError
from monitor.judge.calibration import Calibration
from monitor.judge.encoder import EncoderUnavailableError, load_encoder
from monitor.judge.judge import Judge, check_calibration
from monitor.judge.llm import Verifier

FITTED_FILE = "judge-calibration.json"
SHIPPED = "data/calibration.json"


def build_judge(config: Config, *, calibrated: bool = True) -> Judge:
    """The judge the config describes; a configured encoder or calibration that cannot be
    loaded is a ConfigError naming monitor.toml. `calibrated=False` tolerates a calibration
    that cannot be used (the judge then has none): what `monitor judge fit` needs to replace it."""
    settings_path = config.dir / "monitor.toml"
    try:
        encoder = load_encoder(config.settings.judge.encoder)
    except EncoderUnavailableError as e:
        raise ConfigError(settings_path, str(e), key="judge.encoder") from e
    path = calibration_path(config)
    calibration: Calibration | None
    try:
        calibration = load_calibration(path)
        check_calibration(calibration)
    except (OSError, ValueError, KeyError) as e:
        if calibrated:
            message = f"cannot read the calibration: {e}"
            raise ConfigError(path or settings_path, message, key="judge.calibration") from e
        calibration = None
    return Judge(config.registry, encoder, calibration, embed_budget=config.settings.judge.embed_chars)


def calibration_path(config: Config) -> Path | None:
    """The calibration file in force (None: the shipped one)."""
    if config.settings.judge.calibration:
        return (config.dir / config.settings.judge.calibration).resolve()
    fitted = config.storage_dir / FITTED_FILE
    return fitted if fitted.exists() else None


def load_calibration(path: Path | None) -> Calibration:
    if path is None:
        return shipped_calibration()
    return Calibration.loads(path.read_text(encoding="utf-8"))


def shipped_calibration() -> Calibration:
    return Calibration.loads(resources.files("monitor.judge").joinpath(SHIPPED).read_text(encoding="utf-8"))


def build_verifier(config: Config) -> Verifier | None:
    """The verifier `[judge.verifier]` describes (None: off). An `api_key_env` naming a variable
    that is not set is a ConfigError: every call would be refused."""
    settings = config.settings.judge.verifier
    if settings.kind == "off":
        return None
    key = None
    if settings.api_key_env:
        key = os.environ.get(settings.api_key_env)
        if not key:
            raise ConfigError(
                config.dir / "monitor.toml",
                f"the environment variable {settings.api_key_env} (api_key_env) is not set: set it to the API key, "
                "or remove api_key_env if the server wants none",
                key="judge.verifier.api_key_env",
            )
    return Verifier(settings, key)
