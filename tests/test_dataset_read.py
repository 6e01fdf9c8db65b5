"""Reading a ratings file fast: pandas' C reader where it reads as the row-by-row reader would,
the row-by-row reader (which names the bad line) wherever it might not."""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest

import dataset.interactions as interactions_module
from dataset import DataFileError, Interactions, read_interactions

HEADER = "USER_ID,ITEM_ID,RATING,TIMESTAMP"


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def row_by_row(path: Path, monkeypatch: pytest.MonkeyPatch) -> Interactions | str:
    """What the exact reader alone makes of the file: the interactions, or its error."""
    with monkeypatch.context() as patched:
        patched.setattr(interactions_module, "read_columns", lambda path, layout: None)
        return outcome(path)


def outcome(path: Path) -> Interactions | str:
    try:
        return read_interactions(path)
    except DataFileError as error:
        return f"error: {error}"


def assert_same(fast: Interactions | str, exact: Interactions | str) -> None:
    if isinstance(exact, str) or isinstance(fast, str):
        assert fast == exact
        return
    assert (fast.user_ids, fast.item_ids) == (exact.user_ids, exact.item_ids)
    for name in ("users", "items", "ratings", "timestamps"):
        got, expected = getattr(fast, name), getattr(exact, name)
        assert got.dtype == expected.dtype, name
        assert np.array_equal(got, expected, equal_nan=name == "ratings"), name
    assert (fast.source, fast.fingerprint) == (exact.source, exact.fingerprint)


def test_a_clean_file_is_read_by_columns_not_row_by_row(tmp_path, monkeypatch):
    path = write(tmp_path / "r.csv", f"{HEADER}\nu1,m1,4.5,100\nu2,m1,,200\nu1,m2,3,300\n")

    def refuse(*args: object) -> None:
        raise AssertionError("read row by row")

    monkeypatch.setattr(interactions_module, "_parse_rows", refuse)
    data = read_interactions(path)
    assert data.user_ids == ["u1", "u2"] and data.item_ids == ["m1", "m2"]
    assert data.users.tolist() == [0, 1, 0] and data.items.tolist() == [0, 0, 1]
    assert data.ratings[0] == 4.5 and np.isnan(data.ratings[1])
    assert data.timestamps.tolist() == [100, 200, 300]


ACCEPTED = {
    "plain": f"{HEADER}\nu1,m1,4.5,100\nu2,m1,3,200\n",
    "IDs kept as written": f'{HEADER}\n007,NA,4,1\nnull,"Matrix, The (1999)",3,2\n u ,é,1,3\n',
    "empty ratings": f"{HEADER}\nu,m,,1\nv,m,2,2\n",
    "no rating column": "USER_ID,ITEM_ID,TIMESTAMP\nu,m,1\nv,m,2\n",
    "event value": "USER_ID,ITEM_ID,EVENT_VALUE,TIMESTAMP\nu,m,2,1\n",
    "Personalize order, empty value": (
        "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE\nu,m,1,watch,\nv,m,2,watch,0.5\n"
    ),
    "extra columns and fields": f"{HEADER},DEVICE\nu,m,4,1,web\nv,m,3,2,web,extra\n",
    "CRLF and blank lines": f"{HEADER}\r\nu,m,4,1\r\n\r\nv,m,3,2\r\n\n",
    "no final newline": f"{HEADER}\nu,m,4,1",
    "timestamps int() reads": f"{HEADER}\nu,m,4, 100\nv,m,4,+200\nw,m,4,-5\nx,m,4,1_000\n",
    "ratings float() reads": f"{HEADER}\nu,m,nan,1\nv,m, 4 ,2\nw,m,1e0,3\nx,m,inf,4\n",
    "empty ID": f"{HEADER}\n,m,4,1\nu,,4,2\n",
    "NUL byte in an ID": f"{HEADER}\nu,m,4,1\nv\0,m,4,2\n",
    "rating column last, empty": "USER_ID,ITEM_ID,TIMESTAMP,RATING\nu,m,1,\nv,m,2,4\n",
    "header in another case and order": "timestamp,Rating,item_id,user_id\n1,4,m,u\n",
}


@pytest.mark.parametrize("text", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted_files_read_as_row_by_row(tmp_path, monkeypatch, text):
    path = write(tmp_path / "r.csv", text)
    exact = row_by_row(path, monkeypatch)
    assert not isinstance(exact, str), exact
    assert_same(outcome(path), exact)


REJECTED = {
    "timestamp with a fraction": (f"{HEADER}\nu,m,4,1\nu,n,4,1.0\n", 3),
    "timestamp in exponent form": (f"{HEADER}\nu,m,4,1e3\n", 2),
    "empty timestamp": (f"{HEADER}\nu,m,4,1\nv,m,4,\n", 3),
    "date as timestamp": (f"{HEADER}\nu,m,4,2019-05-01\n", 2),
    "rating that is not a number": (f"{HEADER}\nu,m,4,1\nu,n,lots,2\n", 3),
    "short row": (f"{HEADER}\nu,m,4,1\nu,n,4\n", 3),
    "short row, rating column last": ("USER_ID,ITEM_ID,TIMESTAMP,RATING\nu,m,1,4\nv,m,2\n", 3),
    "short row, ID column last": ("TIMESTAMP,RATING,USER_ID,ITEM_ID\n1,4,u,m\n2,4,u\n", 3),
    "line of blanks": (f"{HEADER}\nu,m,4,1\n   \nv,m,3,2\n", 3),
    "timestamp out of range": (f"{HEADER}\nu,m,4,1\nv,m,4,99999999999999999999\n", 3),
}


@pytest.mark.parametrize(("text", "line"), REJECTED.values(), ids=REJECTED.keys())
def test_rejected_files_name_the_line_as_row_by_row(tmp_path, monkeypatch, text, line):
    path = write(tmp_path / "r.csv", text)
    fast = outcome(path)
    assert isinstance(fast, str) and re.search(rf"r\.csv:{line}: expected USER_ID", fast), fast
    assert fast == row_by_row(path, monkeypatch)


def test_the_row_by_row_reader_names_the_line_of_a_cell_past_csvs_limit(tmp_path, monkeypatch):
    # Python's csv module stops at 131,072 characters in a cell; pandas reads such a cell.
    path = write(tmp_path / "r.csv", f"{HEADER}\nu,m,4,1\nv,{'m' * 200_000},4,2\n")
    assert row_by_row(path, monkeypatch).startswith(f"error: {path}:3: expected USER_ID")


def test_invalid_utf8_is_reported_as_before(tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    path.write_bytes(f"{HEADER}\nu,m,4,1\n".encode() + b"u,caf\xe9,4,2\n")
    fast = outcome(path)
    assert "not valid UTF-8" in fast and fast == row_by_row(path, monkeypatch)


CELLS = {
    "id": ["u1", "u2", "m1", "007", "7", "NA", "", " x", "é", '"a,b"', '"q""q"', "nan"],
    "rating": ["4", "4.5", "", "0.5", "nan", " 3", "x", "1e0", "5."],
    "time": ["1", "100", "-3", "+4", "1.0", "", "1e2", "zz", " 7", "1_0"],
}


def random_file(rng: random.Random) -> str:
    """A small ratings file of cells that the two readers might read differently."""
    lines = [HEADER]
    for _ in range(rng.randint(1, 6)):
        cells = [rng.choice(CELLS["id"]), rng.choice(CELLS["id"]),
                 rng.choice(CELLS["rating"]), rng.choice(CELLS["time"])]
        shape = rng.random()
        if shape < 0.05:
            cells = cells[: rng.randint(1, 3)]  # a short row
        elif shape < 0.1:
            cells.append("extra")
        elif shape < 0.13:
            cells = [" "] if rng.random() < 0.5 else []  # blanks, or a blank line
        lines.append(",".join(cells))
    return rng.choice(["\n", "\r\n"]).join(lines) + rng.choice(["", "\n"])


def test_random_files_read_as_row_by_row(tmp_path, monkeypatch):
    rng = random.Random(11)
    for case in range(400):
        path = write(tmp_path / f"r{case}.csv", random_file(rng))
        assert_same(outcome(path), row_by_row(path, monkeypatch))
