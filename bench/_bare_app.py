"""The floors for bench/bench_serve.py and bench/bench_pages.py: bare Flask pages, and the app
with its results page unrendered, served by the same gunicorn config as the app."""

from __future__ import annotations

from typing import Any

import flask
from flask import Flask, render_template
from jinja2 import Environment, FileSystemLoader, TemplateNotFound

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


def create_unrendered(folder: str, instance: str) -> Flask:
    """The app itself, except that its results page at n=N sends page-N.html from `folder` (the
    page it renders, saved) instead of rendering results.html.

    So GET /recommendations does everything the real page does but render it: the read limit,
    the user's ratings read and ranked, OMDb's details looked up, the cards' data built, and
    the session's form token made for the page's forms.
    """
    import pages  # the app's modules: gunicorn runs in the project folder
    import wsgi

    saved = Environment(loader=FileSystemLoader(folder), autoescape=True)

    def render_saved(template: str, **context: Any) -> str:
        if template == "results.html":
            try:
                page = saved.get_template(f"page-{context['count']}.html")
            except TemplateNotFound:  # a size the bench did not save: the worker's warm-up
                pass
            else:
                pages.csrf_token()
                return page.render()
        return flask.render_template(template, **context)

    pages.render_template = render_saved  # in this bench server's process only
    return wsgi.create_warm_app(instance)
