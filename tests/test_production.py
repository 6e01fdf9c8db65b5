"""Serving in production: gunicorn with the committed gunicorn.conf.py, and wsgi.py.

The settings it takes (workers from the cores, threads, bind), what it refuses to start with,
and, against a real gunicorn on a loopback port: the model is built once before the workers
fork, slow clients do not stall it, every worker agrees, and HTTPS behind a local proxy.
"""

from __future__ import annotations

import http.client
import os
import runpy
import socket
import time
from pathlib import Path

import pytest
import responses
from conftest import write_small_data
from flask import Flask
from gunicorn_support import PROJECT, Gunicorn

import config
import wsgi
from app import create_app
from recommender.base import EmbeddedRecommender

CONFIG_FILE = PROJECT / "gunicorn.conf.py"


def gunicorn_settings(monkeypatch: pytest.MonkeyPatch, **environ: str) -> dict:
    """What gunicorn.conf.py sets, read with these variables in the environment."""
    for name in ("HOST", "PORT", "WEB_CONCURRENCY", "WEB_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(config, "load_dotenv", lambda *args, **kwargs: None)  # no .env here
    return runpy.run_path(str(CONFIG_FILE))


# --- gunicorn.conf.py --------------------------------------------------------------------------


def test_threaded_workers_serve_the_app_built_once_before_they_fork(monkeypatch):
    settings = gunicorn_settings(monkeypatch)
    assert settings["worker_class"] == "gthread"
    assert settings["threads"] == 4
    assert settings["preload_app"] is True
    assert settings["wsgi_app"] == "wsgi:create_warm_app()"
    assert settings["bind"] == ["127.0.0.1:8080"]  # this machine only, as for `make run`


def test_the_worker_count_is_twice_the_cpus_plus_one_at_most_eight(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
    assert gunicorn_settings(monkeypatch)["workers"] == 5
    assert gunicorn_settings(monkeypatch, WEB_CONCURRENCY="0")["workers"] == 5
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(16)))
    assert gunicorn_settings(monkeypatch)["workers"] == 8


def test_workers_threads_and_address_come_from_the_settings(monkeypatch):
    settings = gunicorn_settings(
        monkeypatch, WEB_CONCURRENCY="3", WEB_THREADS="16", HOST="::1", PORT="9000"
    )
    assert (settings["workers"], settings["threads"]) == (3, 16)
    assert settings["bind"] == ["[::1]:9000"]


@pytest.mark.parametrize(
    ("name", "value"),
    [("WEB_CONCURRENCY", "lots"), ("WEB_CONCURRENCY", "-1"), ("WEB_THREADS", "0")],
)
def test_a_bad_server_setting_stops_gunicorn_naming_it(monkeypatch, name, value):
    with pytest.raises(SystemExit, match=f"Configuration error: {name}: expected a whole number"):
        gunicorn_settings(monkeypatch, **{name: value})


# --- wsgi.py -----------------------------------------------------------------------------------


def test_shared_ratings_without_a_shared_secret_key_refuse_to_start():
    settings = {**config.defaults(), "DATABASE_URL": "postgresql://movies@db.example/movies"}
    with pytest.raises(config.ConfigError, match="SECRET_KEY is blank while DATABASE_URL"):
        wsgi.check_production(settings)
    wsgi.check_production({**settings, "SECRET_KEY": "the same on every server"})
    wsgi.check_production(config.defaults())  # one machine: workers share instance/secret-key


def test_gunicorn_exits_with_the_message_instead_of_serving(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "load_dotenv", lambda *args, **kwargs: None)
    monkeypatch.setenv("DATABASE_URL", "postgresql://movies:hunter2@db.example/movies")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(SystemExit) as stopped:
        wsgi.create_warm_app(str(tmp_path / "instance"))
    assert str(stopped.value).startswith("Configuration error: SECRET_KEY is blank")
    assert "hunter2" not in str(stopped.value)
    assert not (tmp_path / "instance").exists()  # nothing was built


def test_the_warm_app_has_its_model_before_the_first_request(monkeypatch, tmp_path, data_files):
    ratings, items = data_files
    monkeypatch.setattr(config, "load_dotenv", lambda *args, **kwargs: None)
    for name, value in {"RATINGS_PATH": ratings, "ITEMS_PATH": items, "DATABASE_URL": ""}.items():
        monkeypatch.setenv(name, str(value))
    app = wsgi.create_warm_app(str(tmp_path / "instance"))
    wiring = app.extensions["movies"]
    assert wiring.is_built("recommender") and wiring.is_built("catalog")
    assert not wiring.is_built("omdb")  # the lookup client and its cache are each worker's own


def test_a_new_worker_serves_itself_a_page_before_its_first_visitor(make_app):
    app = make_app()
    wiring = app.extensions["movies"]
    wiring.warm_up()  # in the master
    assert not wiring.is_built("omdb")
    wsgi.warm_worker(app)  # in the worker
    assert wiring.is_built("omdb")  # the whole results page ran, enrichment included


def test_the_warm_up_spends_no_visitors_rate_limit(make_app):
    app = make_app({"RATE_LIMIT_READS": "2 per minute"})
    app.extensions["movies"].warm_up()  # in the master
    wsgi.warm_worker(app)  # several pages, from a documentation address
    assert app.extensions["movies"].is_built("omdb")
    page = app.test_client().get("/recommendations?user_id=1")  # a visitor on 127.0.0.1
    assert page.status_code == 200


def test_the_warm_up_sends_omdb_no_request(make_app):
    app = make_app({"OMDB_API_KEY": "k3y"})
    app.extensions["movies"].warm_up()  # in the master
    with responses.RequestsMock() as omdb_api:  # any request would fail the warm-up's lookups
        wsgi.warm_worker(app)
        assert len(omdb_api.calls) == 0
    assert app.extensions["movies"].omdb.enabled  # a real client, held to its cache


def test_a_worker_on_personalize_makes_no_warm_up_call(make_app):
    campaign = "arn:aws:personalize:eu-west-1:123456789012:campaign/movies"
    app = make_app({"PERSONALIZE_CAMPAIGN_ARN": campaign})
    wsgi.warm_worker(app)  # GetRecommendations is billed per call, per worker
    assert not app.extensions["movies"].is_built("recommender")


def test_another_app_on_the_committed_config_still_boots():
    wsgi.warm_worker(Flask(__name__))  # no recommender wiring: nothing to warm, no error


def test_one_flask_train_serves_every_app_that_mounts_the_model_dir(tmp_path, data_files):
    ratings, items = data_files
    shared = {"RATINGS_PATH": str(ratings), "ITEMS_PATH": str(items), "SECRET_KEY": "test",
              "MODEL_DIR": str(tmp_path / "models")}
    trainer = create_app(shared, instance_path=str(tmp_path / "trainer"))
    result = trainer.test_cli_runner().invoke(args=["train"])
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "models") in result.output

    def no_training(*args, **kwargs):
        raise AssertionError("trained instead of loading the shared model")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(EmbeddedRecommender, "train", no_training)
        machine = create_app(shared, instance_path=str(tmp_path / "another-machine"))
        health = machine.test_client().get("/api/recommendations?user_id=3&n=2")
        assert health.status_code == 200
    assert machine.extensions["movies"].recommender.health()["model"] == "loaded"


# --- a real gunicorn ---------------------------------------------------------------------------


def start_gunicorn(folder: Path, **settings) -> Gunicorn:
    """gunicorn with the committed config on the small data, with these app settings."""
    ratings, items = write_small_data(folder)
    base = {"RATINGS_PATH": ratings, "ITEMS_PATH": items, "SECRET_KEY": "test"}
    return Gunicorn({**base, **settings}, folder / "instance").start()


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory: pytest.TempPathFactory):
    """One worker: the hardest case for slow clients (a sync worker is stalled by one)."""
    with start_gunicorn(tmp_path_factory.mktemp("one-worker"), WEB_CONCURRENCY=1) as server:
        yield server


@pytest.fixture
def two_workers(tmp_path: Path):
    with start_gunicorn(tmp_path, WEB_CONCURRENCY=2) as server:
        yield server


def test_a_fresh_worker_answers_with_the_model_the_master_loaded(one_worker):
    server = one_worker
    assert server.get_json("/healthz")["model_loaded"] is True  # the worker's first request
    [worker] = server.worker_pids()
    os.kill(worker, 9)  # the master forks a replacement, from the same warm app
    server.wait_for_workers(1)
    server.wait_until_serving()
    assert server.worker_pids() != [worker]
    assert server.get_json("/healthz")["model_loaded"] is True
    # Built once, by the master: the replacement did not load or train a model of its own.
    assert server.log_tail(100_000).count("Serving recommendations from") == 1
    assert "Warming up" not in server.log_tail(100_000)  # both warm-ups ran, neither failed


def test_two_unfinished_uploads_leave_healthz_answering(one_worker):
    server = one_worker
    slow = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(2)]
    try:
        for connection in slow:
            connection.sendall(
                b"POST /api/ratings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n{\"user_id\": "  # and the rest never comes
            )
        time.sleep(0.5)  # both are being read by the worker
        health = server.get_json("/healthz", timeout=10)
        assert health["status"] == "ok"
    finally:
        for connection in slow:
            connection.close()


def test_a_rating_through_one_worker_is_left_out_by_every_worker(two_workers):
    server = two_workers
    page = "/api/recommendations?user_id=3&n=5"
    assert server.get_json(page)["items"][0]["item_id"] == "h4"  # Psycho, the top pick
    status, _body = server.post_json("/api/ratings", {"user_id": "3", "item_id": "h4", "rating": 5})
    assert status == 201
    # A new connection each time: each read goes to whichever worker accepts it.
    answers = [[item["item_id"] for item in server.get_json(page)["items"]] for _ in range(20)]
    assert [answer for answer in answers if "h4" in answer] == []


def test_behind_a_local_https_proxy_the_session_cookie_is_secure(one_worker):
    # gunicorn trusts X-Forwarded-Proto from 127.0.0.1 (FORWARDED_ALLOW_IPS), as nginx sends it.
    server = one_worker

    def session_cookie(headers: dict[str, str]) -> str:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("POST", "/new", headers=headers)
        cookie = connection.getresponse().getheader("Set-Cookie") or ""
        connection.close()
        return cookie

    assert "Secure" in session_cookie({"X-Forwarded-Proto": "https"})
    assert "Secure" not in session_cookie({})
