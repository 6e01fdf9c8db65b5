"""`flask recommend`: many users' recommendations in Amazon Personalize's batch-output format.

One JSON line per input line, `{"input": {"userId"}, "output": {"recommendedItems", "scores"},
"error"}`, from the active backend through the pages' own use case; a bad line or a failing user
is an error line and the run goes on; `--out` is replaced only by a finished run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from batch import output_line, read_users
from recommender.interface import Recommendation, RecommenderUnavailable


def run(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["recommend", *args])


def lines_of(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def users_file(folder: Path, *lines: str | bytes) -> Path:
    path = folder / "users.txt"
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n"
                              for line in lines))
    return path


class FailsFor:
    """The real recommender, except that asking for one user raises `error`."""

    def __init__(self, inner: Any, user_id: str, error: BaseException) -> None:
        self._inner, self._user_id, self._error = inner, user_id, error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def recommend(self, user_id: str, n: int, **options: Any) -> Any:
        if user_id == self._user_id:
            raise self._error
        return self._inner.recommend(user_id, n, **options)


@pytest.fixture
def embedded(make_app) -> Any:
    """The embedded engine, trained once on the small data, to wrap in FailsFor."""
    return make_app().extensions["movies"].fallback


# --- The format ------------------------------------------------------------------------------


def test_each_user_gets_one_line_in_personalizes_batch_output_format(make_app, tmp_path):
    users = users_file(tmp_path, "0", '{"userId": "25"}', "", '{"userId": 3}')

    result = run(make_app(), "--users", str(users), "--n", "4")

    assert result.exit_code == 0, result.output
    lines = lines_of(result.stdout)
    assert [line["input"] for line in lines] == [{"userId": "0"}, {"userId": "25"},
                                                 {"userId": "3"}]  # the blank line is skipped
    for line in lines:
        assert set(line) == {"input", "output", "error"} and line["error"] is None
        assert set(line["output"]) == {"recommendedItems", "scores"}
        assert len(line["output"]["recommendedItems"]) == 4
        assert len(line["output"]["scores"]) == 4
        assert all(isinstance(score, float) for score in line["output"]["scores"])
    assert "Wrote 3 lines; 0 with an error." in result.stderr


def test_scores_are_left_out_when_the_backend_gives_none_as_personalize_does_for_some_recipes():
    scored = output_line("7", [Recommendation("m1", 0.5), Recommendation("m2", 0.25)])
    unscored = output_line("7", [Recommendation("m1", 0.5), Recommendation("m2")])

    assert scored["output"] == {"recommendedItems": ["m1", "m2"], "scores": [0.5, 0.25]}
    assert unscored["output"] == {"recommendedItems": ["m1", "m2"]}


def test_the_lines_are_what_the_pages_use_case_recommends_rated_movies_left_out(
        make_app, tmp_path):
    app = make_app()
    services = app.extensions["movies"].services
    with app.app_context():
        _ = services.recommender  # the model is built before the rating below is made
        services.store.add("21", "c4", 5.0)  # in another worker, say
    users = users_file(tmp_path, "0", "21", "new-user")

    result = run(app, "--users", str(users), "--n", "5")

    assert result.exit_code == 0, result.output
    for line in lines_of(result.stdout):
        user = line["input"]["userId"]
        expected = [item.item_id for item in services.recommend(user, 5).items]
        assert line["output"]["recommendedItems"] == expected
        rated = {event.item_id for event in services.history(user)}
        assert not rated & set(line["output"]["recommendedItems"]), user
    comedy_fan = lines_of(result.stdout)[1]["output"]["recommendedItems"]
    assert "c4" not in comedy_fan  # the one comedy user 21 had not rated in the file


# --- Errors stay on their line ----------------------------------------------------------------


def test_unusable_lines_become_error_lines_and_the_run_goes_on(make_app, tmp_path):
    users = users_file(tmp_path, "x" * 257, '{"user": "1"}', "{not json", '{"userId": "a\\tb"}',
                       "[1]", b"caf\xe9", '{"userId": null}', "4")

    result = run(make_app(), "--users", str(users))

    assert result.exit_code == 0, result.output
    lines = lines_of(result.stdout)
    errors = [line["error"] for line in lines]
    assert errors[:4] == [
        "line 1: A user ID has at most 256 characters; this one has 257.",
        'line 2: no "userId" string',
        "line 3: not a JSON object",
        "line 4: A user ID cannot contain control characters such as tabs or newlines.",
    ]
    # "[1]" is not JSON to this reader (only lines starting with "{" are): it is the ID "[1]".
    assert lines[4]["error"] is None and lines[4]["input"] == {"userId": "[1]"}
    assert errors[5:7] == ["line 6: A user ID must be Unicode text; this one has a lone surrogate.",
                           'line 7: no "userId" string']
    assert lines[5]["input"] == {"userId": "caf\\xe9"}  # the undecodable byte, shown
    assert lines[1]["input"] == {"user": "1"} and lines[2]["input"] == {"text": "{not json"}
    assert all(line["output"] is None for line in lines[:4] + lines[5:7])
    assert lines[7]["input"] == {"userId": "4"} and lines[7]["output"]["recommendedItems"]
    assert "Wrote 8 lines; 6 with an error." in result.stderr


@pytest.mark.parametrize("error, message", [
    (RecommenderUnavailable("Amazon Personalize did not answer in time.", "Try again later."),
     "Amazon Personalize did not answer in time. Try again later."),
    (ValueError("bad score"), "unexpected error: ValueError: bad score"),
])
def test_a_user_the_backend_fails_for_gets_an_error_line_and_the_others_their_lists(
        make_app, embedded, tmp_path, error, message):
    app = make_app(recommender=FailsFor(embedded, "1", error))
    users = users_file(tmp_path, "0", "1", "2")

    result = run(app, "--users", str(users))

    assert result.exit_code == 0, result.output
    lines = lines_of(result.stdout)
    assert lines[1] == {"input": {"userId": "1"}, "output": None, "error": message}
    assert lines[0]["output"]["recommendedItems"] and lines[2]["output"]["recommendedItems"]


def test_a_backend_that_cannot_start_stops_the_run_with_its_reason(make_app, tmp_path):
    app = make_app({"RATINGS_PATH": str(tmp_path / "missing.csv")})
    users = users_file(tmp_path, "0")

    result = run(app, "--users", str(users))

    assert result.exit_code == 1
    assert "The ratings file could not be read" in result.output
    assert "Traceback" not in result.output and result.stdout == ""


# --- Who, and where to ------------------------------------------------------------------------


def test_all_means_every_user_of_the_ratings_file_and_of_the_app(make_app):
    app = make_app()
    with app.app_context():
        app.extensions["movies"].services.store.add("only-in-the-app", "h1", 4.0)

    result = run(app, "--all", "--n", "2")

    assert result.exit_code == 0, result.output
    users = [line["input"]["userId"] for line in lines_of(result.stdout)]
    assert users == [*(str(user) for user in range(40)), "only-in-the-app"]
    assert "h1" not in lines_of(result.stdout)[-1]["output"]["recommendedItems"]


def test_out_is_written_whole_and_replaces_the_file_only_when_the_run_completes(
        make_app, embedded, tmp_path):
    out = tmp_path / "results" / "recs.jsonl"
    out.parent.mkdir()
    out.write_text("an earlier run's\n")
    users = users_file(tmp_path, "0", "1", "2")

    interrupted = run(make_app(recommender=FailsFor(embedded, "2", KeyboardInterrupt())),
                      "--users", str(users), "--out", str(out))

    assert interrupted.exit_code != 0
    assert out.read_text() == "an earlier run's\n"
    assert sorted(path.name for path in out.parent.iterdir()) == ["recs.jsonl"]  # no leftovers

    done = run(make_app(), "--users", str(users), "--out", str(out))

    assert done.exit_code == 0, done.output
    assert [line["input"]["userId"] for line in lines_of(out.read_text())] == ["0", "1", "2"]
    assert done.stdout == f"Wrote 3 lines to {out}; 0 with an error.\n"


@pytest.mark.parametrize("args, complaint", [
    ([], "Give either --users FILE or --all."),
    (["--all", "--users", "users.txt"], "Give either --users FILE or --all."),
    (["--all", "--n", "0"], "Invalid value for '--n'"),
    (["--all", "--n", "101"], "Invalid value for '--n'"),
    (["--users", "no-such-file.txt"], "Invalid value for '--users'"),
])
def test_usage_mistakes_are_usage_errors(make_app, tmp_path, monkeypatch, args, complaint):
    monkeypatch.chdir(tmp_path)
    users_file(tmp_path, "0")

    result = run(make_app(), *args)

    assert result.exit_code == 2
    assert complaint in result.output and "Traceback" not in result.output


def test_the_reader_takes_plain_ids_and_personalizes_json_lines_alike():
    entries = read_users([" 7 \n", '{"userId": "7"}\n', "\n", '{"userId": 8, "itemList": []}'])

    assert [(entry.line, entry.user_id, entry.problem) for entry in entries] == [
        (1, "7", None), (2, "7", None), (4, "8", None)]

