"""The saved model across restarts and retraining: ratings made in the app are folded in on top
of it until `flask train` takes them in, and a running server switches to the model `flask
train` saves within MODEL_CHECK_SECONDS, without a restart."""

from __future__ import annotations

import csv
import logging
import os
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import write_small_data
from gunicorn_support import Gunicorn

from app import create_app
from dataset import Interactions, read_interactions
from recommender.base import EmbeddedRecommender
from recommender.model_files import load_model, model_path
from recommender.reloading import ModelWatch, file_signature

SWITCH_SECONDS = 30  # generous: the machine running the tests may be busy


def settings_for(folder: Path, **more) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    ratings, items = write_small_data(folder)
    return {"RATINGS_PATH": str(ratings), "ITEMS_PATH": str(items), "SECRET_KEY": "test",
            "MODEL_DIR": str(folder / "models"), "RATE_LIMIT_WRITES": "",
            "RATE_LIMIT_READS": "", **more}


def read_ratings(settings: dict) -> Interactions:
    return read_interactions(settings["RATINGS_PATH"])


def rate(client, user_id: str, item_id: str, rating: float = 5) -> None:
    response = client.post("/api/ratings", json={"user_id": user_id, "item_id": item_id,
                                                 "rating": rating})
    assert response.status_code == 201, response.get_data(as_text=True)


def listed(client, user_id: str = "3") -> list[str]:
    body = client.get(f"/api/recommendations?user_id={user_id}&n=6").get_json()
    return [item["item_id"] for item in body["items"]]


def flask_train(settings: dict, instance: Path) -> str:
    trainer = create_app(settings, instance_path=str(instance))
    result = trainer.test_cli_runner().invoke(args=["train"])
    assert result.exit_code == 0, result.output
    return result.output


def swap_tastes(ratings: Path) -> None:
    """Horror fans become comedy fans and the other way round, in a file replaced atomically."""
    with ratings.open(newline="") as handle:
        rows = list(csv.reader(handle))
    swapped = {"h": "c", "c": "h"}
    partial = ratings.with_name("ratings.partial")
    with partial.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(rows[0])
        for user, item, rating, when in rows[1:]:
            writer.writerow([user, swapped[item[0]] + item[1:], rating, when])
    os.replace(partial, ratings)


# --- restarts and `flask train` -------------------------------------------------------------


def test_ratings_made_in_the_app_do_not_make_the_next_start_retrain(tmp_path, monkeypatch):
    settings = settings_for(tmp_path)
    first = create_app(settings, instance_path=str(tmp_path / "instance")).test_client()
    rate(first, "3", "c1")
    rate(first, "newcomer", "c2")
    expected = {user: listed(first, user) for user in ("3", "newcomer")}

    monkeypatch.setattr(EmbeddedRecommender, "train", pytest.fail)
    restarted = create_app(settings, instance_path=str(tmp_path / "instance")).test_client()
    health = restarted.get("/healthz").get_json()
    assert {user: listed(restarted, user) for user in expected} == expected  # folded in again
    assert restarted.get("/healthz").get_json()["model"] == "loaded"
    assert health["model_loaded"] is False  # built by the first page, not before


def test_flask_train_takes_in_the_apps_ratings_and_the_next_start_loads_it(tmp_path, monkeypatch):
    settings = settings_for(tmp_path)
    app = create_app(settings, instance_path=str(tmp_path / "instance")).test_client()
    rate(app, "3", "c1", 4.5)
    rate(app, "newcomer", "c2")

    output = flask_train(settings, tmp_path / "instance")
    assert "and 2 ratings made in the app" in output
    saved = model_path(tmp_path / "models")
    model = EmbeddedRecommender.load(saved, read_ratings(settings))
    assert model.in_training("newcomer")
    assert {(user, item) for user, item, _rating, _when in model._model.app_ratings} == {
        ("3", "c1"), ("newcomer", "c2")}

    monkeypatch.setattr(EmbeddedRecommender, "train", pytest.fail)
    restarted = create_app(settings, instance_path=str(tmp_path / "instance")).test_client()
    assert listed(restarted, "newcomer")
    health = restarted.get("/healthz").get_json()
    assert health["model"] == "loaded" and health["users"] == 41  # the 40 in the file, and one


def test_a_model_saved_before_it_kept_the_apps_ratings_still_loads(tmp_path):
    settings = settings_for(tmp_path)
    flask_train(settings, tmp_path / "instance")
    saved = model_path(tmp_path / "models")
    with np.load(saved) as arrays:
        older = {name: arrays[name] for name in arrays if not name.startswith("app_")}
    np.savez(saved, **older)
    assert load_model(saved, read_ratings(settings)).app_ratings == ()


# --- a new model without a restart --------------------------------------------------------------


def test_the_watch_looks_at_most_once_per_interval_and_loads_a_replaced_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    path.write_bytes(b"first")
    now = [100.0]
    reloads: list[bytes] = []
    watch = ModelWatch(path, 30, lambda: reloads.append(path.read_bytes()),
                       seen=file_signature(path), clock=lambda: now[0])
    looked = []
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda *args, **kwargs: looked.append(1) or
                        real_stat(*args, **kwargs))

    path.with_name("new").write_bytes(b"second, longer")
    os.replace(path.with_name("new"), path)
    for _ in range(100):
        assert watch.poll() is None  # within the interval: not even a stat
    assert looked == []
    now[0] += 30
    watch.poll().join(timeout=10)
    assert reloads == [b"second, longer"] and len(looked) == 1
    now[0] += 30
    assert watch.poll() is None  # unchanged since: nothing to load
    assert reloads == [b"second, longer"]


def test_a_zero_interval_never_looks(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"first")
    watch = ModelWatch(path, 0, pytest.fail, seen=None, clock=lambda: 10**9)
    assert watch.poll() is None


def until(condition, seconds: float = SWITCH_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.1)


def test_a_running_app_switches_to_the_model_flask_train_saves(tmp_path):
    settings = settings_for(tmp_path, MODEL_CHECK_SECONDS=1)
    flask_train(settings, tmp_path / "trainer")
    serving = create_app(settings, instance_path=str(tmp_path / "instance")).test_client()
    assert listed(serving)[0] == "h4"  # user 3 is a horror fan
    before = serving.get("/healthz").get_json()
    assert before["model"] == "loaded"
    fingerprint = before["model_fingerprint"]

    swap_tastes(Path(settings["RATINGS_PATH"]))
    flask_train(settings, tmp_path / "trainer")
    until(lambda: serving.get("/healthz").get_json()["model_fingerprint"] != fingerprint)
    assert listed(serving)[0].startswith("c")  # user 3 now likes comedy: the new data's model
    assert serving.get("/healthz").get_json()["model"] == "loaded"  # not trained by the app


def test_a_model_that_does_not_fit_is_refused_and_a_later_one_that_fits_is_served(
    tmp_path, caplog
):
    settings = settings_for(tmp_path, MODEL_CHECK_SECONDS=1)
    flask_train(settings, tmp_path / "trainer")
    serving = create_app(settings, instance_path=str(tmp_path / "instance")).test_client()
    answer = listed(serving)
    fingerprint = serving.get("/healthz").get_json()["model_fingerprint"]
    swap_tastes(Path(settings["RATINGS_PATH"]))  # new data, not trained on yet

    elsewhere = settings_for(tmp_path / "other")  # another ratings file than the server's
    with open(elsewhere["RATINGS_PATH"], "a", newline="") as handle:
        csv.writer(handle).writerow(["99", "c1", 3, 1_600_000_999])
    flask_train({**elsewhere, "MODEL_DIR": settings["MODEL_DIR"]}, tmp_path / "trainer")
    with caplog.at_level(logging.ERROR, logger="recommender.reloading"):
        until(lambda: listed(serving) == answer and "Could not switch" in caplog.text)
    assert serving.get("/healthz").get_json()["model_fingerprint"] == fingerprint
    assert "retrain with `flask train`" in caplog.text

    flask_train(settings, tmp_path / "trainer")  # on the server's file as it is now
    until(lambda: serving.get("/healthz").get_json()["model_fingerprint"] != fingerprint)
    assert listed(serving)[0].startswith("c")


def test_gunicorn_workers_switch_to_a_retrained_model(tmp_path):
    settings = settings_for(tmp_path, MODEL_CHECK_SECONDS=1, WEB_CONCURRENCY=2)
    flask_train(settings, tmp_path / "trainer")
    with Gunicorn(settings, tmp_path / "instance").start() as server:
        first = server.get_json("/healthz")["model_fingerprint"]
        assert recommended(server)[0] == "h4"
        swap_tastes(Path(settings["RATINGS_PATH"]))
        flask_train(settings, tmp_path / "trainer")

        def every_worker_switched() -> bool:
            # A new connection each time: each read goes to whichever worker accepts it.
            answers = [server.get_json("/healthz")["model_fingerprint"] for _ in range(10)]
            return first not in answers

        until(every_worker_switched)
        assert {recommended(server)[0][0] for _ in range(10)} == {"c"}
        assert server.log_tail(100_000).count("Serving the new model") == 2  # one per worker


def recommended(server: Gunicorn) -> list[str]:
    return [item["item_id"] for item in
            server.get_json("/api/recommendations?user_id=3&n=6")["items"]]
