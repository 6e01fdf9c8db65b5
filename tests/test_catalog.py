"""The data files (the dataset package): reading items and interactions, checking them
(validation), importing MovieLens, and the `flask data` commands."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from flask import Flask

from commands import data_cli as data_cli_group
from dataset import (
    Catalog,
    DataFileError,
    Interactions,
    Movie,
    import_movielens,
    parse_title,
    read_interactions,
    read_items,
    validate_interactions,
)
from dataset.validation import MAX_LISTED_PROBLEMS

HEADER = "USER_ID,ITEM_ID,RATING,TIMESTAMP"


def ratings_lines(users: int = 30, per_user: int = 40) -> list[str]:
    """Data lines of a file Personalize accepts: 30 users x 40 = 1,200 interactions."""
    return [
        f"{user},{(user * 7 + n) % 97},{1 + (user + n) % 5}.0,{1_500_000_000 + user * 1000 + n}"
        for user in range(1, users + 1)
        for n in range(per_user)
    ]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    return write_lines(tmp_path / "ratings.csv", [HEADER, *ratings_lines()])


def with_line(path: Path, line_number: int, text: str) -> Path:
    """Replace one line (1-based, the header is line 1) of a text file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[line_number - 1] = text
    return write_lines(path, lines)


# --- parse_title, Movie, Catalog ------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "title", "year"),
    [
        ("Matrix, The (1999)", "The Matrix", 1999),
        ("Toy Story (1995)", "Toy Story", 1995),
        ("Heat", "Heat", None),
        ("Bug's Life, A (1998)", "A Bug's Life", 1998),
        (
            "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
            "The City of Lost Children (Cité des enfants perdus, La)",
            1995,
        ),
        ("Auberge espagnole, L' (2002)", "L'Auberge espagnole", 2002),
        ("Good, the Bad and the Ugly, The (1966)", "The Good, the Bad and the Ugly", 1966),
        ("Babylon 5 (1993-1998)", "Babylon 5", 1993),
        ("  Casablanca (1942)  ", "Casablanca", 1942),
    ],
)
def test_parse_title_makes_movielens_titles_readable(raw: str, title: str, year: int | None):
    assert parse_title(raw) == (title, year)


def test_movie_label_adds_the_year_only_when_known():
    assert Movie("1", "The Matrix", 1999).label == "The Matrix (1999)"
    assert Movie("2", "Heat").label == "Heat"


def test_catalog_get_known_and_unknown_ids():
    matrix = Movie("2571", "The Matrix", 1999, ("Action", "Sci-Fi"))
    catalog = Catalog([matrix])
    assert catalog.get("2571") is matrix
    assert "2571" in catalog and "999" not in catalog and len(catalog) == 1
    assert catalog.genres == ["Action", "Sci-Fi"]
    # The workshop's file uses titles as IDs: an unknown ID still reads as a film.
    assert catalog.get("Matrix, The (1999)") == Movie("Matrix, The (1999)", "The Matrix", 1999)
    assert catalog.get("999") == Movie("999", "999", None)


# --- read_items -----------------------------------------------------------------------


def test_read_items_with_and_without_optional_columns(tmp_path: Path):
    full = write_lines(tmp_path / "full.csv", [
        "ITEM_ID,TITLE,YEAR,GENRES,IMDB_ID",
        "1,Toy Story,1995,Adventure|Animation,tt0114709",
        "2,Untitled,,(no genres listed),",
    ])
    assert read_items(full) == [
        Movie("1", "Toy Story", 1995, ("Adventure", "Animation"), "tt0114709"),
        Movie("2", "Untitled", None, (), None),
    ]
    bare = write_lines(tmp_path / "bare.csv", ["item_id,title", "7,Heat"])
    assert read_items(bare) == [Movie("7", "Heat")]


def test_read_items_names_the_line_of_a_bad_row(tmp_path: Path):
    path = write_lines(tmp_path / "items.csv", ["ITEM_ID,TITLE,YEAR", "1,Heat,1995", "2,Up,soon"])
    with pytest.raises(DataFileError, match=r"items\.csv:3:"):
        read_items(path)


def test_read_items_rejects_a_file_without_title(tmp_path: Path):
    path = write_lines(tmp_path / "items.csv", ["ITEM_ID,NAME", "1,Heat"])
    with pytest.raises(DataFileError, match="missing column.*TITLE"):
        read_items(path)


# --- read_interactions and Interactions ---------------------------------------------------


def test_read_interactions_with_ratings(tmp_path: Path):
    path = write_lines(tmp_path / "r.csv", [HEADER, "u1,m1,4.5,100", "u2,m1,3,200", "u1,m2,,300"])
    data = read_interactions(path)
    assert (len(data), data.n_users, data.n_items) == (3, 2, 2)
    assert data.user_ids == ["u1", "u2"] and data.item_ids == ["m1", "m2"]
    assert data.users.tolist() == [0, 1, 0] and data.items.tolist() == [0, 0, 1]
    assert data.ratings[:2].tolist() == [4.5, 3.0] and np.isnan(data.ratings[2])
    assert data.timestamps.tolist() == [100, 200, 300]
    assert data.source == str(path) and len(data.fingerprint) == 64


def test_read_interactions_without_ratings(tmp_path: Path):
    path = write_lines(tmp_path / "r.csv", ["USER_ID,ITEM_ID,TIMESTAMP", "u1,m1,100"])
    data = read_interactions(path)
    assert np.isnan(data.ratings).all() and data.history("u1")[0].rating is None


def test_read_interactions_takes_event_value_as_the_rating(tmp_path: Path):
    path = write_lines(tmp_path / "r.csv", ["USER_ID,ITEM_ID,EVENT_VALUE,TIMESTAMP", "u,m,2,1"])
    assert read_interactions(path).ratings.tolist() == [2.0]


def test_read_interactions_names_the_line_of_a_bad_row(tmp_path: Path):
    path = write_lines(tmp_path / "r.csv", [HEADER, "u1,m1,4,100", "u1,m2,4,yesterday"])
    with pytest.raises(DataFileError, match=r"r\.csv:3: .*data validate"):
        read_interactions(path)


def test_read_interactions_needs_the_required_columns(tmp_path: Path):
    path = write_lines(tmp_path / "r.csv", ["userId,movieId,rating,timestamp", "1,1,4,100"])
    with pytest.raises(DataFileError, match="missing column.*USER_ID"):
        read_interactions(path)


def test_read_interactions_reports_an_empty_file(tmp_path: Path):
    path = tmp_path / "r.csv"
    path.write_text("")
    with pytest.raises(DataFileError, match="empty"):
        read_interactions(path)


def test_read_functions_report_invalid_utf8_as_a_data_error(tmp_path: Path):
    ratings = tmp_path / "r.csv"
    ratings.write_bytes(b"USER_ID,ITEM_ID,TIMESTAMP\nu1,caf\xe9,100\n")
    items = tmp_path / "i.csv"
    items.write_bytes(b"ITEM_ID,TITLE\n1,caf\xe9\n")
    with pytest.raises(DataFileError, match="UTF-8"):
        read_interactions(ratings)
    with pytest.raises(DataFileError, match="UTF-8"):
        read_items(items)


def test_history_is_oldest_first_and_keeps_file_order_on_ties(tmp_path: Path):
    path = write_lines(tmp_path / "r.csv", [
        HEADER, "u1,late,5,300", "u2,other,1,50", "u1,early,4,100", "u1,tie-a,3,200",
        "u1,tie-b,2,200",
    ])
    data = read_interactions(path)
    assert [event.item_id for event in data.history("u1")] == [
        "early", "tie-a", "tie-b", "late"
    ]
    assert [(e.rating, e.timestamp) for e in data.history("u2")] == [(1.0, 50)]
    assert data.history("nobody") == [] and len(data.rows_of("nobody")) == 0
    assert data.has_user("u2") and not data.has_user("nobody")


# --- validate_interactions ----------------------------------------------------------------


def test_validator_counts_users_and_items_of_accepted_rows_only(good_file: Path):
    write_lines(good_file, [*good_file.read_text().splitlines(), "ghost,999,4.0,never"])
    report = validate_interactions(good_file)
    assert (report.rows, report.accepted, report.rejected) == (1201, 1200, 1)
    assert (report.users, report.items) == (30, 97)


def test_validator_accepts_a_good_file(good_file: Path):
    report = validate_interactions(good_file)
    assert report.ok and report.problems == [] and report.problem_count == 0
    assert (report.rows, report.users, report.items) == (1200, 30, 97)


def test_validator_accepts_empty_ratings_and_extra_metadata_columns(tmp_path: Path):
    lines = [f"{line},web" for line in ratings_lines()]
    lines[5] = "1,5,,1500000000,web"
    report = validate_interactions(write_lines(tmp_path / "r.csv", [f"{HEADER},DEVICE", *lines]))
    assert report.ok, report.problems


def test_validator_accepts_event_type_and_event_value(tmp_path: Path):
    lines = [f"{user},{item},watch,{value},{ts}" for user, item, value, ts in
             (line.split(",") for line in ratings_lines())]
    header = "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP"
    assert validate_interactions(write_lines(tmp_path / "r.csv", [header, *lines])).ok


@pytest.mark.parametrize(
    ("line", "text", "expected"),
    [
        (5, ",12,4.0,1500000000", "USER_ID is empty"),
        (6, "1,,4.0,1500000000", "ITEM_ID is empty"),
        (7, "1," + "x" * 257 + ",4.0,1500000000", "ITEM_ID is 257 characters long"),
        (8, "u" * 300 + ",1,4.0,1500000000", "USER_ID is 300 characters long"),
        (9, "1,12,4.0,2019-05-01", "TIMESTAMP '2019-05-01' is not an integer"),
        (10, "1,12,4.0,1500000000000", "looks like milliseconds; .*divide by 1000"),
        (14, "1,12,4.0,1.5e12", r"TIMESTAMP '1\.5e12' .*milliseconds"),
        (11, "1,12,4.0,", "TIMESTAMP is empty"),
        (12, "1,12,great,1500000000", "RATING 'great' is not a number"),
        (13, "1,12,4.0", r"expected 4 fields \(USER_ID,ITEM_ID,RATING,TIMESTAMP\), found 3"),
        (15, "1,12,4.0,1500000000,extra", "expected 4 fields .*found 5"),
    ],
    ids=[
        "empty-user", "empty-item", "long-item", "long-user", "date-timestamp",
        "millisecond-timestamp", "float-millisecond-timestamp", "empty-timestamp",
        "non-numeric-rating", "too-few-fields", "too-many-fields",
    ],
)
def test_validator_reports_a_bad_row_with_its_line(
    good_file: Path, line: int, text: str, expected: str
):
    report = validate_interactions(with_line(good_file, line, text))
    assert not report.ok and report.problem_count == 1
    [problem] = report.problems
    assert problem.line == line
    assert re.search(expected, problem.message), problem.message


def test_validator_accepts_ids_of_exactly_256_characters(good_file: Path):
    assert validate_interactions(with_line(good_file, 5, f"{'u' * 256},{'i' * 256},4,1")).ok


def test_validator_checks_event_value_and_event_type(tmp_path: Path):
    lines = [f"{user},{item},watch,{value},{ts}" for user, item, value, ts in
             (line.split(",") for line in ratings_lines())]
    lines[2] = "1,12,watch,lots,1500000000"
    lines[3] = "1,12,,4,1500000000"
    header = "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP"
    report = validate_interactions(write_lines(tmp_path / "r.csv", [header, *lines]))
    assert [(p.line, p.message) for p in report.problems] == [
        (4, "EVENT_VALUE 'lots' is not a number"),
        (5, "EVENT_TYPE is empty"),
    ]


def test_validator_locates_invalid_utf8(good_file: Path):
    lines = good_file.read_bytes().split(b"\n")
    lines[20] = b"3,caf\xe9,4.0,1500000000"
    good_file.write_bytes(b"\n".join(lines))
    report = validate_interactions(good_file)
    assert [problem.line for problem in report.problems] == [21]
    assert "not valid UTF-8 (byte 0xe9" in report.problems[0].message


def test_validator_counts_lines_across_blank_lines(good_file: Path):
    lines = good_file.read_text().splitlines()
    lines[3:3] = ["", ""]  # lines 4 and 5 are blank; the old line 4 is now line 6
    lines[5] = "1,12,4.0,soon"
    report = validate_interactions(write_lines(good_file, lines))
    assert [problem.line for problem in report.problems] == [6]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("userId,movieId,rating,timestamp",
         "rename 'userId' -> USER_ID, 'movieId' -> ITEM_ID, 'rating' -> RATING, "
         "'timestamp' -> TIMESTAMP; run `flask --app app data import-movielens DIR`"),
        ("user_id,ITEM_ID,RATING,TIMESTAMP", "rename 'user_id' -> USER_ID"),
        ("USER_ID,ITEM_ID,RATING,TIME", "missing column(s) TIMESTAMP in the header"),
        ('"USER_ID","ITEM_ID","RATING","TIMESTAMP"', "must not be enclosed in quotation marks"),
        ("USER_ID,ITEM_ID,ITEM_ID,TIMESTAMP", "column ITEM_ID appears twice"),
        ("1,12,4.0,1500000000", "the first line looks like data, not a header"),
    ],
    ids=["movielens", "lower-case", "missing", "quoted", "duplicate", "no-header"],
)
def test_validator_reports_header_problems_on_line_1(good_file: Path, header: str, expected):
    report = validate_interactions(with_line(good_file, 1, header))
    assert not report.ok
    messages = [problem.message for problem in report.problems if problem.line == 1]
    assert any(expected in message for message in messages), messages


def test_validator_flags_a_byte_order_mark(good_file: Path):
    good_file.write_bytes(b"\xef\xbb\xbf" + good_file.read_bytes())
    report = validate_interactions(good_file)
    assert [(p.line, "byte-order mark" in p.message) for p in report.problems] == [(1, True)]


def test_validator_needs_1000_interactions(tmp_path: Path):
    lines = ratings_lines()
    assert validate_interactions(write_lines(tmp_path / "a.csv", [HEADER, *lines[:1000]])).ok
    short = validate_interactions(write_lines(tmp_path / "b.csv", [HEADER, *lines[:999]]))
    assert [(p.line, p.message) for p in short.problems] == [
        (None, "only 999 interactions; Personalize needs at least 1,000 to train")
    ]


def test_validator_needs_25_users_with_two_interactions(tmp_path: Path):
    # 24 users with 50 each, plus 100 users with a single interaction.
    lines = ratings_lines(users=24, per_user=50) + [f"single{n},1,3,1500000000" for n in range(100)]
    report = validate_interactions(write_lines(tmp_path / "r.csv", [HEADER, *lines]))
    assert report.users == 124
    assert [(p.line, p.message) for p in report.problems] == [
        (None, "only 24 users have two or more interactions; Personalize needs at least 25 "
               "such users")
    ]
    lines.append("single0,2,3,1500000001")  # the 25th user with two
    assert validate_interactions(write_lines(tmp_path / "r.csv", [HEADER, *lines])).ok


def test_validator_reports_an_empty_file(tmp_path: Path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"")
    report = validate_interactions(path)
    assert not report.ok and report.problems[0].line is None
    assert "empty" in report.problems[0].message


def test_validator_lists_20_problems_and_counts_the_rest(tmp_path: Path):
    lines = ratings_lines(users=45, per_user=20)  # 900: too few, and enough users
    for index in range(0, 450, 10):  # 45 bad timestamps on lines 2, 12, 22, ...
        lines[index] = "1,2,3,never"
    report = validate_interactions(write_lines(tmp_path / "r.csv", [HEADER, *lines]))
    assert report.problem_count == 46  # 45 rows and the file-wide count
    assert len(report.problems) == MAX_LISTED_PROBLEMS + 1 and report.unlisted_problems == 25
    # A file-wide problem is never crowded out, and comes first.
    assert report.problems[0].line is None and "900 interactions" in report.problems[0].message
    assert [p.line for p in report.problems[1:]] == list(range(2, 202, 10))


# --- `flask data validate` ----------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    app = Flask(__name__)
    app.config["RATINGS_PATH"] = str(tmp_path / "ratings.csv")
    app.cli.add_command(data_cli_group)
    return app


def run(app: Flask, *args: str):
    return app.test_cli_runner().invoke(args=["data", *args])


def test_validate_command_checks_ratings_path_by_default(app: Flask, good_file: Path):
    result = run(app, "validate")
    assert result.exit_code == 0, result.output
    assert f"{good_file}: 1,200 interactions, 30 users, 97 items" in result.stdout
    assert "OK: the file meets Amazon Personalize's import rules." in result.stdout


def test_validate_command_lists_problems_and_fails(app: Flask, good_file: Path, tmp_path):
    lines = good_file.read_text().splitlines()
    lines[13] = "1,12,4.0,1.5e12"
    for index in range(100, 130):
        lines[index] = "1,12,4.0"
    bad = write_lines(tmp_path / "bad.csv", lines)
    result = run(app, "validate", str(bad))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith("line 14: TIMESTAMP '1.5e12' ")
    assert "line 101: expected 4 fields" in result.stdout
    assert "… and 11 more problems" in result.stdout
    assert "1,169 interactions, 30 users, 97 items; 31 rows rejected" in result.stdout
    assert "FAILED: 31 problem(s)" in result.stderr


def test_validate_command_counts_only_accepted_rows(app: Flask, good_file: Path):
    # Rejected rows bring a user and an item seen nowhere else: neither may be counted.
    lines = [*good_file.read_text().splitlines(), "ghost,999,4.0,never", "ghost,998,4.0"]
    write_lines(good_file, lines)
    result = run(app, "validate")
    assert result.exit_code == 1
    assert f"{good_file}: 1,200 interactions, 30 users, 97 items; 2 rows rejected" in (
        result.stdout
    )


def test_validate_command_reports_a_missing_file(app: Flask):
    result = run(app, "validate")
    assert result.exit_code == 1
    assert "no such file" in result.stderr


# --- MovieLens import -------------------------------------------------------------------


def write_ml_latest(directory: Path, links: bool = True) -> Path:
    directory.mkdir()
    write_lines(directory / "movies.csv", [
        "movieId,title,genres",
        "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy",
        "2571,\"Matrix, The (1999)\",Action|Sci-Fi|Thriller",
        "29,\"City of Lost Children, The (Cité des enfants perdus, La) (1995)\",Fantasy",
        "99999,Unreleased,(no genres listed)",
    ])
    if links:
        write_lines(directory / "links.csv", [
            "movieId,imdbId,tmdbId", "1,0114709,862", "2571,0133093,603", "29,12345,902",
            "99999,,",
        ])
    ratings = [f"{user},{(1, 2571, 29)[n % 3]},{1 + n % 5}.5,{964982703 + n}"
               for user in range(1, 31) for n in range(40)]
    write_lines(directory / "ratings.csv", ["userId,movieId,rating,timestamp", *ratings])
    return directory


def genre_flags(*on: int) -> str:
    """u.item's 19 genre flags with the given positions set (0 unknown, 3 Animation, ...)."""
    return "|".join("1" if position in on else "0" for position in range(19))


def write_ml_100k(directory: Path) -> Path:
    directory.mkdir()
    lines = [
        f"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story|"
        f"{genre_flags(3, 4, 5)}",
        f"2|Cité des enfants perdus, La (1995)|01-Jan-1995|||{genre_flags(9, 15)}",
        f"3|Shawshank Redemption, The|01-Jan-1994|||{genre_flags(8)}",
        f"267|unknown||||{genre_flags(0)}",
    ]
    (directory / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    ratings = [f"{user}\t{1 + n % 3}\t{1 + n % 5}\t{874965758 + n}"
               for user in range(1, 31) for n in range(40)]
    write_lines(directory / "u.data", ratings)
    return directory


def test_import_ml_latest_layout(tmp_path: Path):
    out = tmp_path / "out"
    summary = import_movielens(write_ml_latest(tmp_path / "ml-latest-small"), out)
    assert (summary.layout, summary.ratings, summary.users, summary.movies, summary.imdb_ids) == (
        "ml-latest", 1200, 30, 4, 3
    )
    assert (out / "items.csv").read_text(encoding="utf-8") == (
        "ITEM_ID,TITLE,YEAR,GENRES,IMDB_ID\n"
        "1,Toy Story,1995,Adventure|Animation|Children|Comedy|Fantasy,tt0114709\n"
        "2571,The Matrix,1999,Action|Sci-Fi|Thriller,tt0133093\n"
        '29,"The City of Lost Children (Cité des enfants perdus, La)",1995,Fantasy,tt0012345\n'
        "99999,Unreleased,,,\n"
    )
    ratings = (out / "ratings.csv").read_text().splitlines()
    assert ratings[:3] == ["USER_ID,ITEM_ID,RATING,TIMESTAMP", "1,1,1.5,964982703",
                           "1,2571,2.5,964982704"]
    assert validate_interactions(out / "ratings.csv").ok
    assert sorted(path.name for path in out.iterdir()) == ["items.csv", "ratings.csv"]


def test_import_ml_latest_without_links_leaves_imdb_ids_empty(tmp_path: Path):
    summary = import_movielens(write_ml_latest(tmp_path / "ml", links=False), tmp_path / "out")
    assert summary.imdb_ids == 0
    assert all(movie.imdb_id is None for movie in read_items(summary.items_path))


def test_import_ml_100k_layout(tmp_path: Path):
    out = tmp_path / "out"
    summary = import_movielens(write_ml_100k(tmp_path / "ml-100k"), out)
    assert (summary.layout, summary.ratings, summary.users, summary.movies, summary.imdb_ids) == (
        "ml-100k", 1200, 30, 4, 0
    )
    assert (out / "items.csv").read_text(encoding="utf-8") == (
        "ITEM_ID,TITLE,YEAR,GENRES,IMDB_ID\n"
        "1,Toy Story,1995,Animation|Children|Comedy,\n"
        "2,La Cité des enfants perdus,1995,Fantasy|Sci-Fi,\n"
        "3,The Shawshank Redemption,1994,Drama,\n"  # year from the release date
        "267,unknown,,,\n"
    )
    assert (out / "ratings.csv").read_text().splitlines()[1] == "1,1,1,874965758"
    assert validate_interactions(out / "ratings.csv").ok


def write_dat(path: Path, lines: list[str], encoding: str) -> None:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))


def write_ml_1m(directory: Path) -> Path:
    """ml-1m's layout: "::"-separated, titles in Latin-1, users.dat beside the ratings."""
    directory.mkdir()
    write_dat(directory / "movies.dat", [
        "1::Toy Story (1995)::Animation|Children's|Comedy",
        "73::Misérables, Les (1995)::Drama|Musical",
        "2571::Matrix, The (1999)::Action|Sci-Fi|Thriller",
    ], "latin-1")
    write_dat(directory / "users.dat", ["1::F::1::10::48067"], "latin-1")
    write_dat(directory / "ratings.dat", [
        f"{user}::{(1, 73, 2571)[n % 3]}::{1 + n % 5}::{978300760 + n}"
        for user in range(1, 31) for n in range(40)
    ], "latin-1")
    return directory


def write_ml_10m(directory: Path) -> Path:
    """ml-10m's layout (ml-10M100K): the same "::" files in UTF-8, half stars, tags.dat."""
    directory.mkdir()
    write_dat(directory / "movies.dat", [
        "29::City of Lost Children, The (Cité des enfants perdus, La) (1995)::Adventure|Fantasy",
        "65130::Revolutionary Road (2008)::Drama|Romance",
        "65133::Blackadder Back & Forth (1999)::(no genres listed)",
    ], "utf-8")
    write_dat(directory / "tags.dat", ["15::4973::excellent!::1215184630"], "utf-8")
    write_dat(directory / "ratings.dat", [
        f"{user}::{(29, 65130, 65133)[n % 3]}::{1 + n % 5}.5::{1230000000 + n}"
        for user in range(1, 31) for n in range(40)
    ], "utf-8")
    return directory


def test_import_ml_1m_layout_with_latin1_titles(tmp_path: Path):
    out = tmp_path / "out"
    summary = import_movielens(write_ml_1m(tmp_path / "ml-1m"), out)
    assert (summary.layout, summary.ratings, summary.users, summary.movies, summary.imdb_ids) == (
        "ml-1m", 1200, 30, 3, 0
    )
    assert (out / "items.csv").read_text(encoding="utf-8") == (
        "ITEM_ID,TITLE,YEAR,GENRES,IMDB_ID\n"
        "1,Toy Story,1995,Animation|Children|Comedy,\n"
        "73,Les Misérables,1995,Drama|Musical,\n"
        "2571,The Matrix,1999,Action|Sci-Fi|Thriller,\n"
    )
    ratings = (out / "ratings.csv").read_text().splitlines()
    assert ratings[:3] == ["USER_ID,ITEM_ID,RATING,TIMESTAMP", "1,1,1,978300760",
                           "1,73,2,978300761"]
    assert validate_interactions(out / "ratings.csv").ok


def test_import_ml_10m_layout_with_utf8_titles(tmp_path: Path):
    out = tmp_path / "out"
    summary = import_movielens(write_ml_10m(tmp_path / "ml-10M100K"), out)
    assert (summary.layout, summary.ratings, summary.users, summary.movies) == (
        "ml-10m", 1200, 30, 3
    )
    assert (out / "items.csv").read_text(encoding="utf-8") == (
        "ITEM_ID,TITLE,YEAR,GENRES,IMDB_ID\n"
        '29,"The City of Lost Children (Cité des enfants perdus, La)",1995,Adventure|Fantasy,\n'
        "65130,Revolutionary Road,2008,Drama|Romance,\n"
        "65133,Blackadder Back & Forth,1999,,\n"
    )
    assert (out / "ratings.csv").read_text().splitlines()[1] == "1,29,1.5,1230000000"
    assert validate_interactions(out / "ratings.csv").ok


def test_import_names_the_line_of_a_bad_dat_rating(tmp_path: Path):
    source = write_ml_1m(tmp_path / "ml-1m")
    lines = (source / "ratings.dat").read_text(encoding="latin-1").splitlines()
    lines[6] = "1::1::5"
    write_dat(source / "ratings.dat", lines, "latin-1")
    with pytest.raises(DataFileError, match=r"ratings\.dat:7: expected user, movie, rating"):
        import_movielens(source, tmp_path / "out")


def test_import_names_the_line_of_a_bad_dat_movie(tmp_path: Path):
    source = write_ml_1m(tmp_path / "ml-1m")
    write_dat(source / "movies.dat", ["1::Toy Story (1995)::Comedy", "2::Jumanji (1995)"], "utf-8")
    with pytest.raises(DataFileError, match=r"movies\.dat:2: expected MovieID::Title::Genres"):
        import_movielens(source, tmp_path / "out")


def test_import_command_reads_ml_1m(app: Flask, tmp_path: Path):
    source = write_ml_1m(tmp_path / "ml-1m")
    result = run(app, "import-movielens", str(source), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert f"Read ml-1m from {source}" in result.stdout
    assert "Wrote 1,200 ratings by 30 users" in result.stdout


def test_import_refuses_a_directory_without_movielens_files(tmp_path: Path):
    with pytest.raises(DataFileError, match="not a MovieLens directory"):
        import_movielens(tmp_path, tmp_path / "out")


def test_import_names_the_line_of_a_bad_rating_and_keeps_old_files(tmp_path: Path):
    source = write_ml_latest(tmp_path / "ml")
    out = tmp_path / "out"
    import_movielens(source, out)
    before = (out / "ratings.csv").read_bytes(), (out / "items.csv").read_bytes()
    with_line(source / "ratings.csv", 50, "2,1,4.0,1999-01-01")
    with pytest.raises(DataFileError, match=r"ratings\.csv:50: timestamp '1999-01-01'"):
        import_movielens(source, out, force=True)
    assert ((out / "ratings.csv").read_bytes(), (out / "items.csv").read_bytes()) == before
    assert sorted(path.name for path in out.iterdir()) == ["items.csv", "ratings.csv"]


def test_import_command_writes_files_and_needs_force_to_replace(app: Flask, tmp_path: Path):
    source = write_ml_latest(tmp_path / "ml")
    out = tmp_path / "out"
    first = run(app, "import-movielens", str(source), "--out", str(out))
    assert first.exit_code == 0, first.output
    assert f"Wrote 1,200 ratings by 30 users to {out / 'ratings.csv'}" in first.stdout
    assert f"Wrote 4 movies (3 with IMDb IDs) to {out / 'items.csv'}" in first.stdout

    (out / "items.csv").write_text("edited\n")
    refused = run(app, "import-movielens", str(source), "--out", str(out))
    assert refused.exit_code == 1
    assert "already exist; use --force to replace" in refused.stderr
    assert (out / "items.csv").read_text() == "edited\n"

    forced = run(app, "import-movielens", str(source), "--out", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert (out / "items.csv").read_text(encoding="utf-8").startswith("ITEM_ID,TITLE")


def test_import_command_reports_a_bad_directory(app: Flask, tmp_path: Path):
    result = run(app, "import-movielens", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1 and "not a MovieLens directory" in result.stderr


# --- The parsed-ratings cache and appending rows ------------------------------------------


def _ratings_file(folder, rows):
    path = folder / "ratings.csv"
    path.write_text("USER_ID,ITEM_ID,RATING,TIMESTAMP\n" + "".join(f"{r}\n" for r in rows))
    return path


def _same(a, b) -> bool:
    arrays = ("users", "items", "timestamps")
    return (
        a.user_ids == b.user_ids
        and a.item_ids == b.item_ids
        and all(np.array_equal(getattr(a, name), getattr(b, name)) for name in arrays)
        and np.array_equal(a.ratings, b.ratings, equal_nan=True)
        and a.fingerprint == b.fingerprint
    )


def test_a_cached_read_equals_a_parsed_one(tmp_path):
    path = _ratings_file(tmp_path, ["u1,a,4,10", "u2,b,,20", "u1,b,2.5,30"])
    parsed = read_interactions(path)
    first = read_interactions(path, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("interactions-*.npz"))) == 1
    again = read_interactions(path, cache_dir=tmp_path / "cache")
    assert _same(parsed, first) and _same(parsed, again)
    assert again.source == str(path) and again.history("u1")[1].rating == 2.5


def test_a_changed_file_is_parsed_again_and_replaces_the_cache(tmp_path):
    path = _ratings_file(tmp_path, ["u1,a,4,10"])
    read_interactions(path, cache_dir=tmp_path)
    path.write_text(path.read_text() + "u2,b,5,20\n")
    assert read_interactions(path, cache_dir=tmp_path).user_ids == ["u1", "u2"]
    assert len(list(tmp_path.glob("interactions-*.npz"))) == 1


def test_an_unreadable_cache_is_ignored(tmp_path):
    path = _ratings_file(tmp_path, ["u1,a,4,10"])
    read_interactions(path, cache_dir=tmp_path)
    next(tmp_path.glob("interactions-*.npz")).write_bytes(b"not an npz")
    assert read_interactions(path, cache_dir=tmp_path).user_ids == ["u1"]


def test_with_rows_keeps_codes_and_adds_new_ids(tmp_path):
    base = Interactions.from_rows([("u1", "a", 4.0, 10), ("u2", "b", None, 20)])
    more = base.with_rows([("u2", "a", 5.0, 30), ("u3", "c", 1.0, 40)], fingerprint="f+1")
    assert more.user_ids == ["u1", "u2", "u3"] and more.item_ids == ["a", "b", "c"]
    assert more.users.tolist() == [0, 1, 1, 2] and more.items.tolist() == [0, 1, 0, 2]
    assert [event.item_id for event in more.history("u2")] == ["b", "a"]
    assert more.fingerprint == "f+1" and len(base) == 2
