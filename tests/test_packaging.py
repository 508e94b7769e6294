"""Packaging: pyproject.toml declares requirements.txt's dependencies and the `speechrec` command,
a wheel carries the migrations, and mypy passes on speechrec/ (its settings in pyproject.toml)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
IN_CI = os.environ.get("CI") == "true"


def requirement_lines(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith(("#", "-r"))]


def test_dependencies_are_those_of_requirements_txt():
    assert PROJECT["project"]["dependencies"] == requirement_lines(ROOT / "requirements.txt")


def test_the_speechrec_command_runs_the_cli():
    module, function = PROJECT["project"]["scripts"]["speechrec"].split(":")
    assert (module, function) == ("speechrec.cli", "main")
    result = subprocess.run([sys.executable, "-c", f"from {module} import {function}; {function}(['--help'])"],
                            cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0 and "upgrade" in result.stdout


def test_the_wheel_carries_the_package_and_its_migrations(tmp_path):
    source = tmp_path / "source"  # setuptools builds in the source tree: a copy keeps the checkout clean
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "data", "build", "*.egg-info", "__pycache__"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = tmp_path.glob("speechrec-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"speechrec/{path.relative_to(ROOT / 'speechrec').as_posix()}"
        for path in (ROOT / "speechrec").rglob("*")
        if path.is_file() and path.suffix in {".py", ".mako"}
    }
    assert expected - names == set()
    assert not any(name.startswith(("tests/", "bench/", "pages/")) for name in names)
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "speechrec = speechrec.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_mypy_passes_on_the_package():
    if not IN_CI:
        pytest.importorskip("mypy", reason="pip install -r requirements-dev.txt")
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
