"""House style is enforced, not hoped for: ruff (lint, import order, no relative imports) over
the tree and mypy over the packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.unit

BIN = Path(sys.executable).parent
PACKAGES = ["schemas", "streams", "jobs", "feature_store", "orchestration", "infra", "omnicx"]


def test_ruff_is_clean() -> None:
    proc = subprocess.run(
        [str(BIN / "ruff"), "check", "."], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_is_clean_on_the_packages() -> None:
    proc = subprocess.run(
        [str(BIN / "mypy"), *PACKAGES], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
