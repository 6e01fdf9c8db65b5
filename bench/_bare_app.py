"""The floor for bench/bench_serve.py: a bare Flask page, served by the same gunicorn config."""

from __future__ import annotations

from flask import Flask

PAGE = "<!doctype html><title>Bare</title><p>A bare Flask page.</p>"


def create() -> Flask:
    app = Flask(__name__)
    app.add_url_rule("/", "index", lambda: PAGE)
    app.add_url_rule("/healthz", "healthz", lambda: {"status": "ok"})
    return app
