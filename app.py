"""The web app: the app factory, error pages, health check, and `python app.py`.

One request flows one way: validate -> recommend -> look up -> enrich -> render. The routes are
in pages.py (HTML) and api.py (JSON); the use cases they share are in services.py, and
wiring.py builds what those use (tests pass in their own through `create_app`).
"""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Unpack

from flask import (
    Flask,
    current_app,
    has_request_context,
    jsonify,
    make_response,
    render_template,
    request,
)
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

import access
import api
import card_parts
import config as settings_module
import discover_api  # noqa: F401 - adds /api/home, /api/search, /api/compare to api.bp
import discover_pages  # noqa: F401 - adds /home, /shelf, /search, /compare to pages.bp
import pages
from wiring import Injected, Wiring, current_wiring

logger = logging.getLogger(__name__)


def healthz() -> Any:
    """The active backend and what is loaded; builds nothing, calls nothing outside.

    503 with the reason when pages cannot be served (say, the ratings file cannot be read).
    """
    found = current_wiring()
    problem = found.unavailable()
    body: dict[str, Any] = {
        "status": "unavailable" if problem else "ok",
        "backend": "personalize" if found.uses_personalize else "embedded",
        "catalog_loaded": found.is_built("catalog"),
        "model_loaded": found.is_built("recommender") or found.is_built("fallback"),
        "omdb_enabled": bool(current_app.config["OMDB_API_KEY"]),
    }
    if found.is_built("catalog"):
        body["catalog_movies"] = len(found.catalog)
    if body["model_loaded"]:
        body.update(found.recommender.health())
    if problem:
        body.update(reason=problem.reason, hint=problem.hint)
    # Unauthenticated: ARNs and AWS messages name the account, which others need not know.
    body = {
        key: settings_module.redact_account_ids(value) if isinstance(value, str) else value
        for key, value in body.items()
    }
    return jsonify(body), 503 if problem else 200


# ---------------------------------------------------------------------------------------------
# Errors and headers


def handle_http_error(error: HTTPException) -> Any:
    if request.path.startswith("/api/"):
        response = make_response(api.http_error(error))
    else:
        titles = {
            403: "Not allowed", 404: "Page not found", 405: "Method not allowed",
            429: "Too many requests",
        }
        page = render_template(
            "error.html", title=titles.get(error.code or 500, error.name), message=error.description
        )
        response = make_response(page, error.code)
    # What the error says beyond its body: WWW-Authenticate on a 401, Retry-After on a 429.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_unexpected_error(error: Exception) -> Any:
    # Foreseeable problems are handled where they happen; this is the last line of defence.
    logger.exception("Unexpected error while serving %s", request.path)
    if request.path.startswith("/api/"):
        return api.error(500, "internal error", "See the app's log.")
    return render_template("error.html", title="Something went wrong", message=None), 500


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' https: data:; script-src 'self'; style-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def add_security_headers(response: Any) -> Any:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    # No page is meant to be framed: a framed rating form invites clickjacking.
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


class SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS.

    Per request rather than a setting, so `python app.py` on http://127.0.0.1 keeps working
    and an HTTPS deployment needs no configuration. Behind a proxy that ends TLS, the request
    looks like HTTP unless werkzeug's ProxyFix trusts the proxy's X-Forwarded-Proto.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        secure = super().get_cookie_secure(app)
        return secure or (has_request_context() and request.is_secure)


# ---------------------------------------------------------------------------------------------
# The factory


def create_app(
    config: Mapping[str, Any] | None = None,
    *,
    instance_path: str | None = None,
    **services: Unpack[Injected],
) -> Flask:
    """Build the app from the environment, or from `config` (tests), with optional services.

    Services are wiring.Injected's: recommender, fallback, catalog, interactions, omdb, store,
    events; whatever isn't given is built on use, and an unknown name is a TypeError.
    `instance_path` (default ./instance) holds the saved model, caches and the secret key.
    """
    app = Flask(__name__, instance_path=instance_path)
    if config is None:
        app.config.from_mapping(settings_module.from_environment())
    else:
        app.config.from_mapping(settings_module.check({**settings_module.defaults(), **config}))
    # Lax keeps the session cookie off cross-site form posts; no form or body here needs 1 MB.
    app.config.update(SESSION_COOKIE_SAMESITE="Lax", MAX_CONTENT_LENGTH=1 << 20)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.secret_key = app.config["SECRET_KEY"] or _instance_secret(Path(app.instance_path))
    app.session_interface = SessionInterface()
    app.add_template_filter(settings_module.redact_account_ids, "redact_account_ids")
    card_parts.init_app(app, links=pages.page_links)
    app.extensions["movies"] = Wiring(app.config, app.instance_path, **services)

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.add_url_rule("/healthz", view_func=healthz)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected_error)
    app.after_request(add_security_headers)
    access.install_limits(app)
    _register_commands(app)
    return app


def _instance_secret(instance: Path) -> str:
    """A secret key kept under instance/, so sessions survive a restart without configuration."""
    path = instance / "secret-key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def _register_commands(app: Flask) -> None:
    from commands import (
        data_cli,
        evaluate_command,
        ratings_cli,
        recommend_command,
        tokens_cli,
        train_command,
    )
    from provisioning import personalize_cli

    commands = (
        data_cli, train_command, evaluate_command, recommend_command, personalize_cli,
        ratings_cli, tokens_cli,
    )
    for command in commands:
        app.cli.add_command(command)


def configure_logging() -> None:
    """INFO and above to stderr, for `python app.py` and gunicorn (wsgi.py) alike."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # At DEBUG these log request URLs, and OMDb takes its key in the URL.
    for noisy in ("urllib3", "requests_cache"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main() -> None:
    """`python app.py`: serve on HOST:PORT (127.0.0.1:8080 by default), debug off."""
    configure_logging()
    try:
        app = create_app()
    except settings_module.ConfigError as error:
        sys.exit(f"Configuration error: {error}")
    app.extensions["movies"].warm_up()
    app.run(
        host=app.config["HOST"],
        port=app.config["PORT"],
        debug=app.config["DEBUG"],
        use_reloader=False,
    )


if __name__ == "__main__":
    main()
