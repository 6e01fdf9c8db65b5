"""The project's own files agree: one minimum Python everywhere, and what each make target installs.

The Makefile's MIN_PYTHON is the reference: the README's "Python 3.N+", ruff's target-version and
the pins' Requires-Python must all say the same.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

PROJECT = Path(__file__).resolve().parents[1]
MAKEFILE = (PROJECT / "Makefile").read_text()
TEST_TOOLS = {"pytest", "moto", "responses", "playwright", "ruff", "hypothesis"}

needs_make = pytest.mark.skipif(
    not (shutil.which("make") and shutil.which("bash")), reason="make and bash are not installed"
)


def makefile_min_python() -> tuple[int, int]:
    found = re.search(r"^MIN_PYTHON := (\d+)\.(\d+)$", MAKEFILE, re.MULTILINE)
    assert found, "the Makefile sets MIN_PYTHON := 3.N"
    return int(found[1]), int(found[2])


def pins(requirements: str) -> dict[str, str]:
    """name -> version for each `name==version` line of a requirements file."""
    lines = (PROJECT / requirements).read_text().splitlines()
    return dict(
        line.split("==") for line in lines if line.strip() and not line.startswith(("#", "-r"))
    )


def make(*args: str, cwd: Path = PROJECT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=cwd, capture_output=True, text=True
    )


def test_the_readme_claims_the_python_the_makefile_checks_for() -> None:
    major, minor = makefile_min_python()
    claims = set(re.findall(r"Python (\d+\.\d+)\+", (PROJECT / "README.md").read_text()))
    assert claims == {f"{major}.{minor}"}


def test_ruff_targets_the_minimum_python() -> None:
    major, minor = makefile_min_python()
    pyproject = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    assert pyproject["tool"]["ruff"]["target-version"] == f"py{major}{minor}"


def test_the_minimum_python_is_the_oldest_that_every_pin_installs_on() -> None:
    wanted = pins("requirements.txt") | pins("requirements-dev.txt")
    installed = {name: metadata.version(name) for name in wanted if _installed(name)}
    if installed != wanted:
        stale = sorted(set(wanted.items()) - set(installed.items()))
        pytest.skip(f"this venv doesn't hold the pins {stale}; `make test` installs them")
    requires = SpecifierSet()
    for name in wanted:
        requires &= SpecifierSet(metadata.metadata(name)["Requires-Python"] or "")
    oldest = next(minor for minor in range(6, 40) if requires.contains(f"3.{minor}.0"))
    assert makefile_min_python() == (3, oldest)


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def test_make_run_needs_none_of_the_test_tools() -> None:
    assert not TEST_TOOLS & set(pins("requirements.txt"))
    assert TEST_TOOLS <= set(pins("requirements-dev.txt"))
    dev_lines = (PROJECT / "requirements-dev.txt").read_text().splitlines()
    assert [line for line in dev_lines if not line.startswith("#")][0] == "-r requirements.txt"


def test_phony_lists_exactly_the_targets_that_are_not_files() -> None:
    phony = re.search(r"^\.PHONY: (.*)$", MAKEFILE, re.MULTILINE)
    targets = re.findall(r"^([a-z][a-z-]*):(?!=)", MAKEFILE, re.MULTILINE)
    assert phony and set(phony[1].split()) == set(targets)


@needs_make
def test_an_older_python_is_refused_with_the_version_needed_and_found(tmp_path: Path) -> None:
    major, minor = makefile_min_python()
    older = tmp_path / "python-older"
    older.write_text(
        f"#!{sys.executable}\nimport sys\n"
        f"sys.version_info = ({major}, {minor - 1}, 12, 'final', 0)\nexec(sys.argv[2])\n"
    )
    older.chmod(0o755)
    refused = make("check-python", f"PYTHON={older}")
    assert refused.returncode != 0
    assert f"Python {major}.{minor} or newer is needed; found {major}.{minor - 1}.12" in (
        refused.stderr
    )
    assert "PYTHON=python3." in refused.stderr  # and says how to name another one


@needs_make
def test_a_missing_python_is_named() -> None:
    refused = make("check-python", "PYTHON=no-such-python3")
    assert refused.returncode != 0
    assert "no-such-python3 was not found" in refused.stderr


@needs_make
def test_this_python_passes_the_check() -> None:
    assert make("check-python", f"PYTHON={sys.executable}").returncode == 0


@pytest.fixture
def fresh_copy(tmp_path: Path) -> Path:
    """The Makefile and requirements files alone, as in a fresh clone (no .venv)."""
    for name in ("Makefile", "requirements.txt", "requirements-dev.txt"):
        shutil.copy(PROJECT / name, tmp_path / name)
    return tmp_path


def installed_as_if_by(folder: Path, *stamps: str) -> None:
    """A .venv whose stamps say these installs ran, after the requirements were last changed."""
    python = folder / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    python.chmod(0o755)
    for name in ("requirements.txt", "requirements-dev.txt"):
        os.utime(folder / name, (1_000_000, 1_000_000))
    for later, stamp in enumerate(stamps, start=1):
        (folder / ".venv" / stamp).write_text("")
        os.utime(folder / ".venv" / stamp, (1_000_000 + later, 1_000_000 + later))


@needs_make
def test_the_first_make_run_installs_only_requirements_txt(fresh_copy: Path) -> None:
    planned = make("-n", "run", cwd=fresh_copy).stdout
    assert "-m venv .venv" in planned
    assert "-r requirements.txt" in planned
    assert "requirements-dev.txt" not in planned


@needs_make
def test_the_first_make_test_installs_both(fresh_copy: Path) -> None:
    planned = make("-n", "test", cwd=fresh_copy).stdout
    assert "-r requirements.txt" in planned and "-r requirements-dev.txt" in planned


@needs_make
def test_make_test_after_make_run_installs_only_the_test_tools(fresh_copy: Path) -> None:
    installed_as_if_by(fresh_copy, ".installed-app")
    planned = make("-n", "test", cwd=fresh_copy).stdout
    assert "-r requirements-dev.txt" in planned
    assert "-r requirements.txt" not in planned and "-m venv" not in planned


@needs_make
def test_make_run_after_make_test_installs_nothing(fresh_copy: Path) -> None:
    installed_as_if_by(fresh_copy, ".installed-app", ".installed-dev")
    planned = make("-n", "run", cwd=fresh_copy).stdout
    assert "pip install" not in planned and "-m venv" not in planned
    assert "app.py" in planned
