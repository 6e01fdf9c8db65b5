"""Reading the data files' CSV: opening with a header map, cells, numbers, fingerprints."""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path


class DataFileError(ValueError):
    """A ratings or items file that cannot be read; the message names the file and line."""


def open_csv(path: str | Path) -> tuple[Iterator[list[str]], dict[str, int]]:
    """Open a CSV file and map its upper-cased header names to column positions."""
    handle = open(path, newline="", encoding="utf-8")  # noqa: SIM115 - closed by the generator
    reader = csv.reader(handle)

    def rows() -> Iterator[list[str]]:
        with handle:
            try:
                yield from reader
            except UnicodeDecodeError as error:
                # Also covers the header: the first read decodes a whole buffer at once.
                raise DataFileError(
                    f"{path}: not valid UTF-8 ({error.reason}); save it with UTF-8 encoding"
                ) from None

    iterator = rows()
    header = next(iterator, None)
    if header is None:
        handle.close()
        raise DataFileError(f"{path}: the file is empty; it needs a header row")
    columns = {name.strip().upper(): position for position, name in enumerate(header)}
    return iterator, columns


def require_columns(
    columns: dict[str, int], names: Iterable[str], path: str | Path
) -> None:
    """Raise DataFileError naming every one of these columns the header lacks."""
    missing = [name for name in names if name not in columns]
    if missing:
        raise DataFileError(f"{path}: missing column(s) {', '.join(missing)} in the header")


def cell_text(row: list[str], position: int | None) -> str:
    """The cell, stripped; "" when the column is absent or the row too short."""
    return row[position].strip() if position is not None and position < len(row) else ""


def is_number(text: str) -> bool:
    """Whether the text is a finite number, as float() reads it."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def file_fingerprint(path: str | Path) -> str:
    """SHA-256 of the file's bytes: a saved model is reused only for the same data."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=8)  # every page shows it, and resolve() asks the file system each time
def display_path(source: str, cwd: str) -> str:
    """The ratings path as people configured it: relative to the working directory if inside."""
    if not source:
        return ""
    try:
        return str(Path(source).resolve().relative_to(cwd))
    except ValueError:
        return source
