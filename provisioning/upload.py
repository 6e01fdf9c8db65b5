"""The files deploy uploads for Personalize to import: CSVs in its shape, and their schemas.

The ratings file is validated first (dataset/validation.py), so a file Personalize would reject is
refused before any AWS call.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataset import DataFileError, file_fingerprint, read_items
from dataset.validation import (
    MIN_ACTIVE_USERS,
    MIN_INTERACTIONS,
    ValidationReport,
    validate_interactions,
)
from provisioning.errors import ProvisionError

# The uploaded interactions CSV; the Avro schema lists the same fields in the same order.
INTERACTION_COLUMNS = ("USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP")
RATING_EVENT_TYPE = "rating"


def interactions_schema() -> dict[str, Any]:
    """The Avro schema of the uploaded interactions CSV (RATING becomes EVENT_VALUE)."""
    types = {"USER_ID": "string", "ITEM_ID": "string", "EVENT_TYPE": "string",
             "EVENT_VALUE": ["null", "float"], "TIMESTAMP": "long"}
    return _avro_record("Interactions", [{"name": name, "type": types[name]}
                                         for name in INTERACTION_COLUMNS])


def items_schema(columns: Iterable[str]) -> dict[str, Any]:
    """The Avro schema of the uploaded items CSV: ITEM_ID plus GENRES and/or YEAR."""
    known = {"GENRES": {"name": "GENRES", "type": ["null", "string"], "categorical": True},
             "YEAR": {"name": "YEAR", "type": ["null", "int"]}}
    return _avro_record("Items", [{"name": "ITEM_ID", "type": "string"}]
                        + [known[name] for name in columns])


def _avro_record(name: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "com.amazonaws.personalize.schema",
            "fields": fields, "version": "1.0"}


@dataclass(frozen=True)
class PreparedFile:
    """A CSV written in the shape Personalize imports, with the schema that describes it."""

    path: Path
    schema: dict[str, Any]
    rows: int
    digest: str  # SHA-256 of the bytes, stored on the S3 object to skip identical uploads


def describe_problems(report: ValidationReport) -> str:
    lines = [f"{report.path} would fail the Personalize import; fix it and deploy again:"]
    lines += [f"  {problem}" for problem in report.problems]
    if report.unlisted_problems:
        lines.append(f"  … and {report.unlisted_problems} more")
    return "\n".join(lines)


def prepare_interactions(
    source: str | Path, dest: Path, min_rating: float | None = None
) -> PreparedFile:
    """Validate the ratings file, then write USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP."""
    report = validate_interactions(source)
    if not report.ok:
        raise ProvisionError(describe_problems(report))
    rows, per_user = _write_interactions(Path(source), dest, min_rating)
    active_users = sum(1 for count in per_user.values() if count >= 2)
    if min_rating is not None and (rows < MIN_INTERACTIONS or active_users < MIN_ACTIVE_USERS):
        raise ProvisionError(
            f"with --min-rating {min_rating:g} only {rows:,} interactions "
            f"({active_users} users with two or more) remain; Personalize needs at least "
            f"{MIN_INTERACTIONS:,} from {MIN_ACTIVE_USERS} such users. Lower --min-rating."
        )
    return PreparedFile(dest, interactions_schema(), rows, file_fingerprint(dest))


def _write_interactions(
    source: Path, dest: Path, min_rating: float | None
) -> tuple[int, dict[str, int]]:
    """Copy the validated rows into the upload shape; return the row count and rows per user."""
    per_user: dict[str, int] = {}
    rows = 0
    with open(source, newline="", encoding="utf-8") as src, \
            open(dest, "w", newline="", encoding="utf-8") as out:
        reader = csv.reader(src)
        columns = {name.strip().upper(): position for position, name in enumerate(next(reader))}
        user, item, stamp = columns["USER_ID"], columns["ITEM_ID"], columns["TIMESTAMP"]
        value = columns.get("RATING", columns.get("EVENT_VALUE"))
        event_type = columns.get("EVENT_TYPE")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(INTERACTION_COLUMNS)
        for row in reader:
            if not row:
                continue
            rating = row[value].strip() if value is not None else ""
            if min_rating is not None and (not rating or float(rating) < min_rating):
                continue
            kind = row[event_type].strip() if event_type is not None else RATING_EVENT_TYPE
            writer.writerow([row[user], row[item], kind, rating, row[stamp].strip()])
            per_user[row[user]] = per_user.get(row[user], 0) + 1
            rows += 1
    return rows, per_user


def prepare_items(source: str | Path, dest: Path) -> PreparedFile:
    """Write ITEM_ID with GENRES (categorical) and YEAR; TITLE is left out (see the README)."""
    try:
        movies = read_items(source)
    except DataFileError as error:
        raise ProvisionError(str(error)) from None
    columns = [name for name, used in (("GENRES", any(movie.genres for movie in movies)),
                                       ("YEAR", any(movie.year is not None for movie in movies)))
               if used]
    if not columns:
        raise ProvisionError(f"{source} has neither GENRES nor YEAR values; an Items dataset "
                             "needs at least one of them. Deploy without --items.")
    with open(dest, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["ITEM_ID", *columns])
        for movie in movies:
            cells = {"GENRES": "|".join(movie.genres),
                     "YEAR": "" if movie.year is None else str(movie.year)}
            writer.writerow([movie.item_id, *(cells[name] for name in columns)])
    return PreparedFile(dest, items_schema(columns), len(movies), file_fingerprint(dest))
