"""Checking an interactions file against Amazon Personalize's import rules.

`validate_interactions` streams the file and reports every problem Personalize would reject it
for (bad bytes, header, IDs, timestamps, numbers, too little data), without raising.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dataset.csvfiles import is_number
from inputs import MAX_ID_LENGTH

# Personalize's reserved names for the columns this app uses; RATING is the workshop's own.
REQUIRED_COLUMNS = ("USER_ID", "ITEM_ID", "TIMESTAMP")
OPTIONAL_COLUMNS = ("RATING", "EVENT_TYPE", "EVENT_VALUE")
MIN_INTERACTIONS = 1000
MIN_ACTIVE_USERS = 25  # users with two or more interactions
MAX_LISTED_PROBLEMS = 20
# Unix seconds pass 1e11 only in the year 5138; such values are milliseconds.
_MILLISECONDS_THRESHOLD = 100_000_000_000
# MovieLens and other common spellings, so a wrong header can still be checked row by row.
_COLUMN_ALIASES = {"USERID": "USER_ID", "MOVIEID": "ITEM_ID", "MOVIE_ID": "ITEM_ID",
                   "ITEMID": "ITEM_ID", "EVENTTYPE": "EVENT_TYPE", "EVENTVALUE": "EVENT_VALUE"}
_IMPORT_HINT = "run `flask --app app data import-movielens DIR` to convert a MovieLens download"


@dataclass(frozen=True)
class Problem:
    line: int | None  # 1-based line number in the file; None for file-wide problems
    message: str

    def __str__(self) -> str:
        return self.message if self.line is None else f"line {self.line}: {self.message}"


@dataclass
class ValidationReport:
    """What validate_interactions found; `problems` lists at most the first 20 per-line ones."""

    path: str
    rows: int = 0  # data rows read, rejected ones included
    accepted: int = 0  # rows without a problem; `users` and `items` count only these
    users: int = 0
    items: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0  # every problem found, listed or not

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def rejected(self) -> int:
        """Rows with at least one problem."""
        return self.rows - self.accepted

    @property
    def unlisted_problems(self) -> int:
        """Problems counted but not kept in `problems` (the "… and N more")."""
        return self.problem_count - len(self.problems)

    def add(self, line: int | None, message: str) -> None:
        self.problem_count += 1
        if line is None or len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(Problem(line, message))


def validate_interactions(path: str | Path) -> ValidationReport:
    """Check an interactions CSV against Amazon Personalize's import rules, streaming it."""
    report = ValidationReport(path=str(path))
    with open(path, "rb") as handle:
        lines = _DecodedLines(handle, report)
        records = _records(lines, report)
        first = next(records, None)
        if first is None:
            report.add(None, "the file is empty; it needs the header USER_ID,ITEM_ID,TIMESTAMP")
            return report
        header = first[1]
        columns = _check_header(header, lines.quoted_header, report)
        per_user = _check_rows(records, lines, header, columns, report)
    _check_volume(report, per_user, has_users="USER_ID" in columns)
    # File-wide problems first (a stable sort keeps the lines in order): they matter most.
    report.problems.sort(key=lambda problem: problem.line is not None)
    return report


class _DecodedLines:
    """Yield a binary file's lines as text, reporting (not raising on) invalid UTF-8."""

    def __init__(self, handle: Iterable[bytes], report: ValidationReport) -> None:
        self._handle = handle
        self._report = report
        self.line = 0  # number of the last line yielded
        self.bad_lines: set[int] = set()
        self.quoted_header = False

    def __iter__(self) -> Iterator[str]:
        for raw in self._handle:
            self.line += 1
            if self.line == 1:
                raw = self._check_first_line(raw)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as error:
                self.bad_lines.add(self.line)
                self._report.add(
                    self.line,
                    f"not valid UTF-8 (byte 0x{raw[error.start]:02x} at position "
                    f"{error.start + 1}); save the file with UTF-8 encoding",
                )
                yield raw.decode("utf-8", errors="replace")

    def _check_first_line(self, raw: bytes) -> bytes:
        if raw.startswith(b"\xef\xbb\xbf"):
            self._report.add(1, "the file starts with a byte-order mark, which becomes part of "
                                "the first column's name; save it as UTF-8 without BOM")
            raw = raw[3:]
        self.quoted_header = b'"' in raw
        return raw


def _records(
    lines: _DecodedLines, report: ValidationReport
) -> Iterator[tuple[int, list[str]]]:
    """Non-blank CSV records with the line each starts on; unparsable ones are reported."""
    reader = csv.reader(lines)
    last_line = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            report.add(last_line + 1, f"cannot parse this line ({error})")
            row = []
        first_line, last_line = last_line + 1, lines.line
        if row:
            yield first_line, row


def _check_header(header: list[str], quoted: bool, report: ValidationReport) -> dict[str, int]:
    """Report header problems; return the positions of the columns the rows can be checked by."""
    if quoted:
        report.add(1, "header names must not be enclosed in quotation marks")
    columns: dict[str, int] = {}
    renames = []
    for position, name in enumerate(header):
        canonical = _canonical_column(name)
        if canonical is None:
            continue  # other metadata columns are allowed by Personalize
        if canonical in columns:
            report.add(1, f"column {canonical} appears twice in the header")
            continue
        columns[canonical] = position
        if name != canonical:
            renames.append(f"{name!r} -> {canonical}")
    if renames:
        movielens = any(name.strip() in ("userId", "movieId") for name in header)
        hint = f"; {_IMPORT_HINT}" if movielens else ""
        report.add(1, f"column names must be exactly as Personalize expects: rename "
                      f"{', '.join(renames)}{hint}")
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        looks_like_data = any(is_number(cell) for cell in header)
        why = "; the first line looks like data, not a header" if looks_like_data else ""
        report.add(1, f"missing column(s) {', '.join(missing)} in the header{why}")
    return columns


def _canonical_column(name: str) -> str | None:
    upper = name.strip().upper()
    if upper in REQUIRED_COLUMNS or upper in OPTIONAL_COLUMNS:
        return upper
    return _COLUMN_ALIASES.get(upper)


def _check_rows(
    records: Iterator[tuple[int, list[str]]],
    lines: _DecodedLines,
    header: list[str],
    columns: dict[str, int],
    report: ValidationReport,
) -> dict[str, int]:
    """Check every data row; return how many interactions each user has, rejected or not."""
    # The volume checks count every well-formed row (fixing a row keeps it); the summary
    # counts only the rows Personalize would accept as they are.
    per_user: dict[str, int] = {}
    users: set[str] = set()
    items: set[str] = set()
    user_col, item_col = columns.get("USER_ID"), columns.get("ITEM_ID")
    cell_checks = [
        (position, _CELL_CHECKS[name]) for name, position in columns.items() if name in _CELL_CHECKS
    ]
    for first_line, row in records:
        report.rows += 1
        if lines.bad_lines:
            spanned = range(first_line, lines.line + 1)
            if any(line in lines.bad_lines for line in spanned):
                lines.bad_lines.difference_update(spanned)
                continue  # already reported as bad bytes; its fields are unreliable
        if len(row) != len(header):
            report.add(first_line, f"expected {len(header)} fields ({','.join(header)}), "
                                   f"found {len(row)}")
            continue
        problems = [message for position, check in cell_checks if (message := check(row[position]))]
        for message in problems:
            report.add(first_line, message)
        if user_col is not None and row[user_col]:
            per_user[row[user_col]] = per_user.get(row[user_col], 0) + 1
        if problems:
            continue
        report.accepted += 1
        if user_col is not None:
            users.add(row[user_col])
        if item_col is not None:
            items.add(row[item_col])
    report.users, report.items = len(users), len(items)
    return per_user


def _check_id(name: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if not value.strip():
            return f"{name} is empty"
        if len(value) > MAX_ID_LENGTH:
            return f"{name} is {len(value)} characters long; Personalize allows {MAX_ID_LENGTH}"
        return None

    return check


def _check_timestamp(value: str) -> str | None:
    if not value.strip():
        return "TIMESTAMP is empty"
    digits = value[1:] if value.startswith("-") else value
    if not (digits.isascii() and digits.isdigit()):
        if is_number(value) and abs(float(value)) >= _MILLISECONDS_THRESHOLD:
            return (f"TIMESTAMP {value!r} is not an integer and looks like milliseconds; "
                    "write whole Unix seconds (divide by 1000)")
        return f"TIMESTAMP {value!r} is not an integer; write Unix seconds, e.g. 1577836800"
    if abs(int(value)) >= _MILLISECONDS_THRESHOLD:
        return (f"TIMESTAMP {value} looks like milliseconds; Personalize wants Unix seconds "
                "(divide by 1000)")
    return None


def _check_number(name: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        # An empty value is a missing rating, which read_interactions accepts.
        if value.strip() and not is_number(value):
            return f"{name} {value!r} is not a number"
        return None

    return check


def _check_event_type(value: str) -> str | None:
    return None if value.strip() else "EVENT_TYPE is empty"


_CELL_CHECKS: dict[str, Callable[[str], str | None]] = {
    "USER_ID": _check_id("USER_ID"),
    "ITEM_ID": _check_id("ITEM_ID"),
    "TIMESTAMP": _check_timestamp,
    "RATING": _check_number("RATING"),
    "EVENT_VALUE": _check_number("EVENT_VALUE"),
    "EVENT_TYPE": _check_event_type,
}


def _check_volume(report: ValidationReport, per_user: dict[str, int], has_users: bool) -> None:
    if report.rows < MIN_INTERACTIONS:
        report.add(None, f"only {report.rows:,} interactions; Personalize needs at least "
                         f"{MIN_INTERACTIONS:,} to train")
    active = sum(1 for count in per_user.values() if count >= 2)
    if has_users and active < MIN_ACTIVE_USERS:
        users = "1 user has" if active == 1 else f"{active} users have"
        report.add(None, f"only {users} two or more interactions; Personalize needs at least "
                         f"{MIN_ACTIVE_USERS} such users")
