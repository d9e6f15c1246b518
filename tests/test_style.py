"""The code keeps the house style: ruff's lint rules and format (``[tool.ruff]`` of
pyproject.toml), so that a slip fails the suite instead of waiting for the next reader."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_the_code_passes_ruff(command):
    pytest.importorskip("ruff", reason="ruff comes with the test extra: pip install '.[test]'")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--no-cache", str(ROOT)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
