"""Reading the interactions' columns at C speed with pandas, or declining to.

pandas' C reader tokenises a large CSV many times faster than Python's csv module, but it is
more lenient than this app's reader: it reads "1.0" as an integer timestamp, pads a short row
with empty cells and skips a line of blanks. `read_columns` therefore keeps pandas' result only
when it must equal the row-by-row reader's (`interactions._parse_rows`), and otherwise returns
None so that reader decides, and names the bad line.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

_LINE_ENDS = np.array([ord("\n"), ord("\r")], dtype=np.uint8)
_BLANKS = np.array([ord(" "), ord("\t")], dtype=np.uint8)


class ColumnLayout(NamedTuple):
    """Positions of the columns the reader uses, and how many the header has."""

    user: int
    item: int
    time: int
    rating: int | None  # RATING, else EVENT_VALUE, else none
    width: int


class Columns(NamedTuple):
    """What `Interactions` is built from: each ID list in order of first appearance, codes."""

    user_ids: list[str]
    item_ids: list[str]
    users: np.ndarray  # int32
    items: np.ndarray  # int32
    ratings: np.ndarray  # float32, NaN for an empty rating
    timestamps: np.ndarray  # int64


def read_columns(path: str | Path, layout: ColumnLayout) -> Columns | None:
    """The file's interactions as arrays, or None when only the exact reader may judge it."""
    # Imported here: a start that finds its ratings cached, or a command, need not pay for it.
    import pandas as pd

    data = Path(path).read_bytes()
    if _has_line_starting_with_blank(data):
        return None
    used = sorted({layout.user, layout.item, layout.time} | _optional(layout.rating))
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            header=0,  # already read by the caller, with the csv module
            names=range(layout.width),  # so columns are known by position
            usecols=used,
            index_col=False,  # a row longer than the header is not an index column
            dtype={layout.user: object, layout.item: object},  # IDs as written: "007" stays
            keep_default_na=False,
            na_values=[""],  # only an empty cell is missing; "NA" is an ID like any other
            encoding="utf-8",
        )
    except (ValueError, OverflowError, pd.errors.ParserError):  # UnicodeDecodeError included
        return None
    return _checked(frame, layout)


def _has_line_starting_with_blank(data: bytes) -> bool:
    """Whether a line starts with a space or tab, which pandas may skip and csv does not."""
    # pandas skips a line of only blanks; the csv module reads it as a one-cell row, which the
    # row-by-row reader rejects. Most ratings files hold no blank at all: one memchr each.
    if b" " not in data and b"\t" not in data:
        return False
    text = np.frombuffer(data, dtype=np.uint8)
    return bool((np.isin(text[:-1], _LINE_ENDS) & np.isin(text[1:], _BLANKS)).any())


def _optional(position: int | None) -> set[int]:
    return set() if position is None else {position}


def _checked(frame: pd.DataFrame, layout: ColumnLayout) -> Columns | None:
    import pandas as pd

    times = frame[layout.time]
    # Anything but int64 means a cell int() may judge differently: "1.0", "1e3", "", "1_000".
    if times.dtype != np.int64:
        return None
    ratings = _ratings(frame, layout)
    if ratings is None:
        return None
    user_codes, user_ids = pd.factorize(frame[layout.user])  # codes in order of first appearance
    item_codes, item_ids = pd.factorize(frame[layout.item])
    # An empty or missing ID (code -1): the csv module keeps "" where pandas sees a gap.
    if (user_codes < 0).any() or (item_codes < 0).any():
        return None
    return Columns(
        user_ids.tolist(),
        item_ids.tolist(),
        user_codes.astype(np.int32),
        item_codes.astype(np.int32),
        ratings,
        times.to_numpy(np.int64),
    )


def _ratings(frame: pd.DataFrame, layout: ColumnLayout) -> np.ndarray | None:
    if layout.rating is None:
        return np.full(len(frame), np.nan, dtype=np.float32)
    column = frame[layout.rating]
    if column.dtype.kind not in "fi":  # "nan", " 4 ", "lots": float() decides
        return None
    # A row cut short reads its missing cells as empty. When the rating is not the last column
    # used, a later column's gap has already sent the file back; when it is, "no rating" and
    # "no cell" look alike here.
    last = max(layout.user, layout.item, layout.time, layout.rating)
    if layout.rating == last and column.isna().any():
        return None
    return column.to_numpy(np.float32)
