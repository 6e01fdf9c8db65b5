"""files.atomic_write: a file is replaced whole or not at all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from files import atomic_write


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_new_content_replaces_the_old_and_nothing_is_left_beside_it(tmp_path):
    target = tmp_path / "ratings.csv"
    target.write_text("old\n")
    with atomic_write(target, newline="", encoding="utf-8") as handle:
        handle.write("new\n")
        assert target.read_text() == "old\n"  # not yet: readers still see the old file
    assert target.read_text() == "new\n"
    assert [path.name for path in tmp_path.iterdir()] == ["ratings.csv"]


def test_binary_writes_work_too(tmp_path):
    with atomic_write(tmp_path / "model.npz", "wb") as handle:
        handle.write(b"\x00\x01")
    assert (tmp_path / "model.npz").read_bytes() == b"\x00\x01"


def test_an_error_while_writing_leaves_the_old_file_and_no_partial_one(tmp_path):
    target = tmp_path / "model.npz"
    target.write_bytes(b"trained")
    with pytest.raises(RuntimeError), atomic_write(target, "wb") as handle:
        handle.write(b"half a mod")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"trained"
    assert [path.name for path in tmp_path.iterdir()] == ["model.npz"]


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    target = tmp_path / ".env"
    target.write_text("A=1\n")
    target.chmod(0o600)
    with atomic_write(target) as handle:
        handle.write("A=2\n")
    assert mode_of(target) == 0o600


def test_a_new_file_gets_the_umasks_permissions_or_the_owners_only_if_private(tmp_path):
    umask = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "items.csv") as handle:
            handle.write("x")
        with atomic_write(tmp_path / ".env", private=True) as handle:
            handle.write("SECRET=1")
    finally:
        os.umask(umask)
    assert mode_of(tmp_path / "items.csv") == 0o644
    assert mode_of(tmp_path / ".env") == 0o600
