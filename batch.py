"""Batch recommendations: many users in one go, in Amazon Personalize's batch-inference format.

`flask recommend` (commands.py) asks the active backend through the same use case as the pages
and the API (`Services.recommend`), so rated movies are left out the same way; `flask
personalize batch` (provisioning/batch.py) has a Personalize batch inference job do it. Both read
a users file with `read_users` and write one JSON line per input line:

    {"input": {"userId": "4638"}, "output": {"recommendedItems": [...], "scores": [...]},
     "error": null}

A line that cannot be used, or a user the backend could not answer for, gets `"output": null`
and the reason in `"error"`; the run goes on. No Flask or click here: callers map the errors.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from inputs import InvalidInput, parse_user_id
from recommender.interface import Recommendation, RecommenderUnavailable
from services import Services

DEFAULT_COUNT = 25  # Personalize's default numResults, for batch jobs too
ECHOED_CHARACTERS = 300  # how much of an unusable line its error line repeats

Record = dict[str, Any]


@dataclass(frozen=True)
class BatchInput:
    """One line of a users file: a user ID, or why the line cannot be used (`problem`)."""

    line: int
    user_id: str | None
    given: Mapping[str, Any]  # what the error line repeats as its "input"
    problem: str | None = None


def read_users_file(path: Path) -> list[BatchInput]:
    """The users file's lines; OSError when it cannot be read."""
    # Undecodable bytes become lone surrogates, which parse_user_id refuses: an error line for
    # that line rather than a failed run. utf-8-sig drops a byte-order mark.
    with open(path, encoding="utf-8-sig", errors="surrogateescape") as lines:
        return read_users(lines)


def read_users(lines: Iterable[str]) -> list[BatchInput]:
    """Parse users: Personalize's `{"userId": "…"}` per line, or one plain ID per line, mixed.

    A line starting with `{` is JSON; any other line is the ID itself. Blank lines are skipped.
    """
    return [_read_line(number, text.strip()) for number, text in enumerate(lines, start=1)
            if text.strip()]


def _read_line(number: int, text: str) -> BatchInput:
    if not text.startswith("{"):
        raw, given = text, {"userId": _echo(text)}
    else:
        try:
            given = json.loads(text)
        except ValueError:
            return _unusable(number, {"text": _echo(text)}, "not a JSON object")
        if not isinstance(given, dict):
            return _unusable(number, {"text": _echo(text)}, "not a JSON object")
        raw = given.get("userId")
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)  # {"userId": 105}: Personalize's IDs are strings
        elif not isinstance(raw, str):
            return _unusable(number, given, 'no "userId" string')
    try:
        return BatchInput(number, parse_user_id(raw), given)
    except InvalidInput as problem:
        return _unusable(number, given, str(problem))


def _unusable(number: int, given: Mapping[str, Any], problem: str) -> BatchInput:
    return BatchInput(number, None, given, f"line {number}: {problem}")


def _echo(text: str) -> str:
    """The line as an error line repeats it: shortened, undecodable bytes as \\xNN."""
    clipped = text[:ECHOED_CHARACTERS] + ("…" if len(text) > ECHOED_CHARACTERS else "")
    return clipped.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def inputs_for(user_ids: Iterable[str]) -> list[BatchInput]:
    """Inputs for IDs that are known to be valid (the ratings' own)."""
    return [BatchInput(number, user_id, {"userId": user_id})
            for number, user_id in enumerate(user_ids, start=1)]


def unique_user_ids(entries: Iterable[BatchInput]) -> list[str]:
    """The usable user IDs, each once, in the order first seen."""
    return list(dict.fromkeys(entry.user_id for entry in entries if entry.user_id is not None))


# --- Output lines ----------------------------------------------------------------------------


def output_line(user_id: str, items: list[Recommendation]) -> Record:
    """A user's line; `scores` only when every item has one (as Personalize's Popularity-Count
    output leaves it out)."""
    output: Record = {"recommendedItems": [item.item_id for item in items]}
    if all(item.score is not None for item in items):
        output["scores"] = [item.score for item in items]
    return {"input": {"userId": user_id}, "output": output, "error": None}


def error_line(given: Mapping[str, Any], error: str) -> Record:
    return {"input": dict(given), "output": None, "error": error}


def recommend_line(services: Services, entry: BatchInput, n: int) -> Record:
    """One input line's output line, from the active backend; a failure is that line's error."""
    if entry.user_id is None:
        return error_line(entry.given, entry.problem or "unusable line")
    given = {"userId": entry.user_id}
    try:
        listing = services.recommend(entry.user_id, n)
    except (RecommenderUnavailable, InvalidInput) as problem:
        return error_line(given, _reason(problem))
    except Exception as problem:  # one user's failure must not stop the run
        return error_line(given, f"unexpected error: {type(problem).__name__}: {problem}")
    return output_line(entry.user_id, listing.items)


def _reason(problem: Exception) -> str:
    if isinstance(problem, RecommenderUnavailable):
        return " ".join(part for part in (problem.reason, problem.hint) if part)
    return str(problem)


def all_user_ids(services: Services) -> list[str]:
    """Every user in the ratings: the file's (with the app's as of loading) and the app's since."""
    interactions = services.interactions
    known = interactions.user_ids if interactions is not None else []
    stored = (user_id for user_id, _item, _rating, _when in services.store.all())
    return list(dict.fromkeys([*known, *stored]))


def merge_outputs(entries: Iterable[BatchInput], lines: Iterable[str]) -> list[Record]:
    """A batch inference job's output lines in the order of the input, one per entry.

    Personalize writes a line per user it was given, in no promised order; the entries it was
    not given (unusable lines) and users it wrote nothing for become error lines.
    """
    written: dict[str, Record] = {}
    for text in lines:
        record = _job_line(text)
        if record is not None:
            written[record["input"]["userId"]] = record
    merged = []
    for entry in entries:
        if entry.user_id is None:
            merged.append(error_line(entry.given, entry.problem or "unusable line"))
        elif entry.user_id in written:
            merged.append(written[entry.user_id])
        else:
            merged.append(error_line({"userId": entry.user_id},
                                     "the batch inference job wrote no line for this user"))
    return merged


def _job_line(text: str) -> Record | None:
    """A job's output line in this module's shape (always with "error"); None if unreadable."""
    try:
        record = json.loads(text)
    except ValueError:
        return None
    given = record.get("input") if isinstance(record, dict) else None
    if not isinstance(given, dict) or not isinstance(given.get("userId"), str):
        return None
    return {"input": given, "output": record.get("output"), "error": record.get("error")}


# --- Writing ---------------------------------------------------------------------------------


def to_json(record: Mapping[str, Any]) -> str:
    """One JSON line, compact as Personalize writes them."""
    return json.dumps(record, separators=(",", ":"))


@dataclass
class Tally:
    """What a run wrote: lines, and how many of them carry an error."""

    lines: int = 0
    errors: int = 0

    def count(self, record: Mapping[str, Any]) -> None:
        self.lines += 1
        self.errors += record.get("error") is not None

    def summary(self, out: Path | None) -> str:
        where = f" to {out}" if out else ""
        return f"Wrote {self.lines:,} lines{where}; {self.errors:,} with an error."


def write_records(records: Iterable[Record], out: Path | None, stream: IO[str]) -> Tally:
    """Write each record as it comes (see `jsonl_output`); OSError when `out` cannot be."""
    tally = Tally()
    with jsonl_output(out, stream) as write:
        for record in records:
            write(record)
            tally.count(record)
    return tally


@contextmanager
def jsonl_output(out: Path | None, stream: IO[str]) -> Iterator[Callable[[Record], None]]:
    """A `write(record)` to `out`, or to `stream` line by line when `out` is None.

    `out` is written to a temporary file beside it, which replaces it only when the block
    ends without an error: an interrupted run leaves an earlier file as it was.
    """
    if out is None:
        def emit(record: Record) -> None:
            stream.write(to_json(record) + "\n")
            stream.flush()  # a pipe reader sees each user as it is done

        yield emit
        return
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=out.parent, prefix=f".{out.name}.", suffix=".tmp",
        delete=False)
    try:
        with handle:
            def write(record: Record) -> None:
                handle.write(to_json(record) + "\n")

            yield write
        os.replace(handle.name, out)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
