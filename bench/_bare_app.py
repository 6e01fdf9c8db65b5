"""The floors for bench/bench_serve.py and bench/bench_pages.py: bare Flask pages, and the app
with its results page unrendered, served by the same gunicorn config as the app."""

from __future__ import annotations

from flask import Flask, render_template
from jinja2 import ChoiceLoader, DictLoader, FileSystemLoader

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


# results.html on the unrendered server: the saved page for the count asked, as it is.
_SAVED_RESULTS = (
    '{% set _token = make_form_token() %}{% include "page-" ~ count ~ ".html" ignore missing %}'
)


def create_unrendered(folder: str, instance: str) -> Flask:
    """The app as gunicorn serves it, unrendered (below)."""
    import wsgi  # the app's own modules: gunicorn runs in the project folder

    return unrendered(wsgi.create_warm_app(instance), folder)


def unrendered(app: Flask, folder: str) -> Flask:
    """`app`, except that its results page at n=N sends page-N.html from `folder` (the page it
    renders, saved) instead of rendering results.html.

    So GET /recommendations does everything the real page does but render it: the read limit,
    the user's ratings read and ranked, OMDb's details looked up, the cards' data built, and
    the session's form token made for the page's forms.
    """
    import pages

    app.jinja_env.globals["make_form_token"] = pages.csrf_token
    app.jinja_env.loader = ChoiceLoader([
        DictLoader({"results.html": _SAVED_RESULTS}),
        FileSystemLoader(folder),
        app.jinja_env.loader,
    ])
    return app
