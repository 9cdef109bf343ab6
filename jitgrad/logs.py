"""Logging through logging.getLogger("jitgrad"); JITGRAD_LOG=1 (or a level name) prints to stderr."""
from __future__ import annotations

import logging
import os


def configure_from_environment() -> None:
    setting = os.environ.get("JITGRAD_LOG", "").strip()
    if not setting or setting == "0":
        return
    level = logging.INFO if setting == "1" else logging.getLevelName(setting.upper())
    if not isinstance(level, int):
        level = int(setting) if setting.isdigit() else logging.INFO
    logger = logging.getLogger("jitgrad")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)
