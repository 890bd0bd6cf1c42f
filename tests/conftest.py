"""Test-wide settings: no network, a private cache folder, the repo importable."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True, scope="session")
def _offline_and_private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never touch the network and never write to the user's cache."""
    os.environ["FRAMEBENCH_OFFLINE"] = "1"
    os.environ["FRAMEBENCH_CACHE"] = str(tmp_path_factory.mktemp("framebench-cache"))
