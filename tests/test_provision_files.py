"""The files provisioning writes: the CSVs it uploads, and .env."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from provision_support import CAMPAIGN_ARN, INTERACTIONS_AVRO, ITEMS_AVRO, REGION

from provisioning.envfile import update_env_file
from provisioning.errors import ProvisionError
from provisioning.upload import prepare_interactions, prepare_items

pytest_plugins = ["provision_fixtures"]


# --- data preparation -------------------------------------------------------------------


def test_prepare_interactions_keeps_ratings_at_or_above_min_rating(
        ratings: Path, tmp_path: Path) -> None:
    prepared = prepare_interactions(ratings, tmp_path / "out.csv", min_rating=2)

    rows = list(csv.reader(open(prepared.path, encoding="utf-8")))
    assert prepared.rows == len(rows) - 1 == 1000
    assert {row[2] for row in rows[1:]} == {"rating"}
    assert min(float(row[3]) for row in rows[1:]) == 2.0
    assert prepared.schema == INTERACTIONS_AVRO


def test_prepare_interactions_refuses_a_filter_that_leaves_too_little(
        ratings: Path, tmp_path: Path) -> None:
    with pytest.raises(ProvisionError, match="only 750 interactions"):
        prepare_interactions(ratings, tmp_path / "out.csv", min_rating=3)


def test_prepare_items_writes_genres_and_year_only(items: Path, tmp_path: Path) -> None:
    prepared = prepare_items(items, tmp_path / "out.csv")

    rows = list(csv.reader(open(prepared.path, encoding="utf-8")))
    assert rows == [["ITEM_ID", "GENRES", "YEAR"], ["m1", "Action|Crime", "1995"],
                    ["m2", "Sci-Fi", "1999"], ["m3", "", ""]]
    assert prepared.schema == ITEMS_AVRO


def test_prepare_items_refuses_a_file_without_metadata(tmp_path: Path) -> None:
    bare = tmp_path / "bare.csv"
    bare.write_text("ITEM_ID,TITLE\nm1,Heat\n", encoding="utf-8")

    with pytest.raises(ProvisionError, match="neither GENRES nor YEAR"):
        prepare_items(bare, tmp_path / "out.csv")

# --- .env -------------------------------------------------------------------------------


def test_env_update_keeps_other_keys_and_comments(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("# OMDb settings\nOMDB_API_KEY=abc123\n\nPERSONALIZE_CAMPAIGN_ARN=old\n"
                   "export DEBUG=1  # local only\n", encoding="utf-8")

    update_env_file(env, {"PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN_ARN, "AWS_REGION": REGION})

    assert env.read_text(encoding="utf-8").splitlines() == [
        "# OMDb settings", "OMDB_API_KEY=abc123", "", f"PERSONALIZE_CAMPAIGN_ARN={CAMPAIGN_ARN}",
        "export DEBUG=1  # local only", f"AWS_REGION={REGION}"]


def test_env_update_leaves_no_repeat_that_would_override_the_new_value(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("AWS_REGION=eu-west-1\nOMDB_API_KEY=abc123\nAWS_REGION=eu-west-2",
                   encoding="utf-8")

    update_env_file(env, {"AWS_REGION": REGION})

    assert env.read_text(encoding="utf-8") == f"AWS_REGION={REGION}\nOMDB_API_KEY=abc123\n"


def test_env_update_creates_the_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"

    update_env_file(env, {"AWS_REGION": REGION})

    assert env.read_text(encoding="utf-8") == f"AWS_REGION={REGION}\n"
