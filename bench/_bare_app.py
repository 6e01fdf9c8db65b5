"""The floors for bench/bench_serve.py and bench/bench_pages.py: bare Flask pages, served by the
same gunicorn config as the app."""

from __future__ import annotations

from flask import Flask, render_template

PAGE = "<!doctype html><title>Bare</title><p>A bare Flask page.</p>"


def create() -> Flask:
    app = Flask(__name__)
    app.add_url_rule("/", "index", lambda: PAGE)
    app.add_url_rule("/healthz", "healthz", lambda: {"status": "ok"})
    return app


def create_static(folder: str) -> Flask:
    """GET /NAME renders NAME.html from `folder`, a static template (no variables, no logic)."""
    app = Flask(__name__, template_folder=folder)
    app.add_url_rule("/<name>", "page", lambda name: render_template(f"{name}.html"))
    app.add_url_rule("/healthz", "healthz", lambda: {"status": "ok"})
    return app
