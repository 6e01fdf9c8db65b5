"""The web app: the app factory, its routes and error pages, and `python app.py`.

One request flows one way: validate -> recommend -> look up -> enrich -> render. The services
(recommender, catalogue, OMDb client, ratings) are built in `create_app`, or passed in by tests.
"""

from __future__ import annotations

import logging
import secrets
import sys
import threading
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError
from flask import (
    Blueprint,
    Flask,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException

import config as settings_module
from catalog import Catalog, DataFileError, Interactions, Movie, read_interactions
from omdb import MovieDetails, OmdbClient
from personalize import (
    PersonalizeRecommender,
    Recommendation,
    Recommender,
    RecommenderUnavailable,
    make_runtime_client,
)

logger = logging.getLogger(__name__)

MAX_USER_ID_LENGTH = 256  # Personalize's limit for USER_ID
MAX_RESULTS = 100
HISTORY_LENGTH = 5

T = TypeVar("T")


class InvalidInput(ValueError):
    """Input a person typed that the app cannot use; the message says how to fix it."""


# ---------------------------------------------------------------------------------------------
# Services


class Services:
    """The app's collaborators, each built on first use.

    Lazy so that CLI commands such as `personalize status` don't pay for training a model;
    `python app.py` warms them up before serving.
    """

    def __init__(self, settings: Mapping[str, Any], instance_path: str, **given: Any) -> None:
        self._settings = settings
        self._instance = Path(instance_path)
        self._built: dict[str, Any] = dict(given)
        self._lock = threading.RLock()

    def _get(self, name: str, build: Callable[[], T]) -> T:
        with self._lock:
            if name not in self._built:
                self._built[name] = build()
            return self._built[name]

    def is_built(self, name: str) -> bool:
        return name in self._built

    @property
    def uses_personalize(self) -> bool:
        return bool(
            self._settings["PERSONALIZE_CAMPAIGN_ARN"]
            or self._settings["PERSONALIZE_RECOMMENDER_ARN"]
        )

    @property
    def catalog(self) -> Catalog:
        return self._get("catalog", self._build_catalog)

    @property
    def interactions(self) -> Interactions | None:
        """The ratings file, or None when Personalize serves and there is no local file."""
        return self._get("interactions", self._build_interactions)

    @property
    def omdb(self) -> OmdbClient:
        return self._get("omdb", self._build_omdb)

    @property
    def recommender(self) -> Recommender:
        """Raises RecommenderUnavailable when it cannot be built (e.g. no ratings file)."""
        return self._get("recommender", self._build_recommender)

    def _build_catalog(self) -> Catalog:
        path = settings_module.resolve_path(self._settings["ITEMS_PATH"])
        if not path.exists():
            logger.warning("No items file at %s; titles will come from the item IDs", path)
            return Catalog()
        return Catalog.from_csv(path)

    def _build_interactions(self) -> Interactions | None:
        path = settings_module.resolve_path(self._settings["RATINGS_PATH"])
        if not path.exists() and self.uses_personalize:
            return None
        return read_interactions(path)

    def _build_omdb(self) -> OmdbClient:
        return OmdbClient(
            self._settings["OMDB_API_KEY"] or None,
            cache_path=self._instance / "omdb-cache.sqlite",
        )

    def _build_recommender(self) -> Recommender:
        if self.uses_personalize:
            return self._build_personalize()
        try:
            interactions = self.interactions
        except (OSError, DataFileError) as error:
            raise RecommenderUnavailable(
                f"The ratings file could not be read: {_describe_file_error(error)}",
                "Check RATINGS_PATH, or run `flask --app app data validate` on the file.",
            ) from error
        from engine import EmbeddedRecommender

        return EmbeddedRecommender.load_or_train(
            interactions, self._instance, recipe=self._settings["RECIPE"]
        )

    def _build_personalize(self) -> PersonalizeRecommender:
        arn = self._settings["PERSONALIZE_CAMPAIGN_ARN"] or self._settings[
            "PERSONALIZE_RECOMMENDER_ARN"
        ]
        region = self._settings["AWS_REGION"] or settings_module.region_of(arn)
        try:
            runtime = make_runtime_client(region)
        except (BotoCoreError, ValueError) as error:
            # Credentials are resolved when the client is made: a missing profile fails here.
            raise RecommenderUnavailable(
                f"The AWS client could not be set up: {error}",
                "Check AWS_PROFILE and the AWS configuration files.",
            ) from error
        return PersonalizeRecommender(
            runtime,
            campaign_arn=self._settings["PERSONALIZE_CAMPAIGN_ARN"],
            recommender_arn=self._settings["PERSONALIZE_RECOMMENDER_ARN"],
            filter_arn=self._settings["PERSONALIZE_FILTER_ARN"],
            sims_campaign_arn=self._settings["PERSONALIZE_SIMS_CAMPAIGN_ARN"],
        )

    def warm_up(self) -> None:
        """Build everything now, so the first visitor doesn't wait for training."""
        _ = self.catalog
        try:
            logger.info("Serving recommendations from %s", self.recommender.description)
        except RecommenderUnavailable as problem:
            logger.error("%s %s", problem.reason, problem.hint)


def _describe_file_error(error: Exception) -> str:
    if isinstance(error, FileNotFoundError):
        return f"{error.filename} does not exist"
    return str(error)


def services() -> Services:
    return current_app.extensions["movies"]


# ---------------------------------------------------------------------------------------------
# Input


def parse_user_id(raw: str | None) -> str:
    """A user ID as Personalize accepts it: 1 to 256 characters, no control characters."""
    user_id = (raw or "").strip()
    if not user_id:
        raise InvalidInput("Enter a user ID, for example 1.")
    if len(user_id) > MAX_USER_ID_LENGTH:
        raise InvalidInput(
            f"A user ID has at most {MAX_USER_ID_LENGTH} characters; this one has {len(user_id)}."
        )
    if any(unicodedata.category(char) == "Cc" for char in user_id):
        raise InvalidInput("A user ID cannot contain control characters such as tabs or newlines.")
    return user_id


def parse_count(raw: str | None, default: int) -> int:
    """The number of recommendations: a whole number from 1 to 100 (blank means the default)."""
    if raw is None or not raw.strip():
        return default
    try:
        count = int(raw.strip())
    except ValueError:
        raise InvalidInput("The number of movies must be a whole number from 1 to 100.") from None
    if not 1 <= count <= MAX_RESULTS:
        raise InvalidInput(f"The number of movies must be from 1 to {MAX_RESULTS}; got {count}.")
    return count


# ---------------------------------------------------------------------------------------------
# Pages


@dataclass(frozen=True)
class Card:
    """One movie as a page shows it: catalogue facts, OMDb details, and why it is there."""

    movie: Movie
    details: MovieDetails | None = None
    reason: str | None = None
    rating: float | None = None  # the user's own rating, in "what this user watched"


bp = Blueprint("movies", __name__)


@bp.get("/")
def index() -> Any:
    return render_index()


def render_index(error: str | None = None, user_id: str = "", count: str = "") -> Any:
    status = 400 if error else 200
    return (
        render_template(
            "index.html",
            error=error,
            user_id=user_id,
            count=count,
            default_count=current_app.config["NUM_RESULTS"],
            known_users=_known_users(),
        ),
        status,
    )


def _known_users() -> dict[str, Any] | None:
    """How many users the ratings file has, and a few to try."""
    try:
        interactions = services().interactions
    except (OSError, DataFileError):
        return None
    if interactions is None:
        return None
    return {"count": interactions.n_users, "examples": interactions.user_ids[:5]}


@bp.post("/result")
def result() -> Any:
    """The workshop's form target; its field was called `text`, ours `user_id`."""
    raw_user = request.form.get("user_id", request.form.get("text"))
    raw_count = request.form.get("n")
    try:
        user_id = parse_user_id(raw_user)
        count = parse_count(raw_count, current_app.config["NUM_RESULTS"])
    except InvalidInput as problem:
        return render_index(str(problem), (raw_user or "")[:MAX_USER_ID_LENGTH], raw_count or "")
    return redirect(url_for(".recommendations", user_id=user_id, n=count), code=303)


@bp.get("/recommendations")
def recommendations() -> Any:
    raw_user, raw_count = request.args.get("user_id"), request.args.get("n")
    try:
        user_id = parse_user_id(raw_user)
        count = parse_count(raw_count, current_app.config["NUM_RESULTS"])
    except InvalidInput as problem:
        return render_index(str(problem), (raw_user or "")[:MAX_USER_ID_LENGTH], raw_count or "")
    found = services()
    try:
        recommender = found.recommender
        listing = recommender.recommend(user_id, count)
    except RecommenderUnavailable as problem:
        return render_template("unavailable.html", problem=problem), 503
    interactions = found.interactions
    return render_template(
        "results.html",
        user_id=user_id,
        count=count,
        cards=_cards(listing.items),
        cold_start=listing.cold_start,
        known_user=interactions.has_user(user_id) if interactions is not None else None,
        backend=recommender.description,
        uses_personalize=found.uses_personalize,
        top_rated=_history_cards(interactions, user_id, by_rating=True),
        recent=_history_cards(interactions, user_id, by_rating=False),
    )


def _cards(recommendations: list[Recommendation]) -> list[Card]:
    found = services()
    movies = [found.catalog.get(item.item_id) for item in recommendations]
    details = found.omdb.details(movies)
    return [
        Card(movie=movie, details=details.get(movie.item_id), reason=item.reason)
        for movie, item in zip(movies, recommendations, strict=True)
    ]


def _history_cards(interactions: Interactions | None, user_id: str, by_rating: bool) -> list[Card]:
    """The user's top-rated or most recent movies from the ratings file, newest first."""
    if interactions is None:
        return []
    history = interactions.history(user_id)[::-1]
    if by_rating:
        history = sorted(
            (event for event in history if event.rating is not None),
            key=lambda event: -event.rating,
        )
    catalog = services().catalog
    return [
        Card(movie=catalog.get(event.item_id), rating=event.rating)
        for event in history[:HISTORY_LENGTH]
    ]


@bp.get("/healthz")
def healthz() -> Any:
    found = services()
    body: dict[str, Any] = {
        "status": "ok",
        "backend": "personalize" if found.uses_personalize else "embedded",
        "catalog_loaded": found.is_built("catalog"),
        "model_loaded": found.is_built("recommender"),
        "omdb_enabled": bool(current_app.config["OMDB_API_KEY"]),
    }
    if found.is_built("catalog"):
        body["catalog_movies"] = len(found.catalog)
    if found.is_built("recommender"):
        body.update(found.recommender.health())
    return jsonify(body)


# ---------------------------------------------------------------------------------------------
# Errors and headers


def handle_http_error(error: HTTPException) -> Any:
    titles = {404: "Page not found", 405: "Method not allowed"}
    return (
        render_template(
            "error.html",
            title=titles.get(error.code or 500, error.name),
            message=error.description if error.code != 404 else None,
        ),
        error.code,
    )


def handle_unexpected_error(error: Exception) -> Any:
    # Foreseeable problems are handled where they happen; this is the last line of defence.
    logger.exception("Unexpected error while serving %s", request.path)
    return render_template("error.html", title="Something went wrong", message=None), 500


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' https: data:; script-src 'self'; style-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'"
)


def add_security_headers(response: Any) -> Any:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


# ---------------------------------------------------------------------------------------------
# The factory


def create_app(
    config: Mapping[str, Any] | None = None,
    *,
    instance_path: str | None = None,
    **services_given: Any,
) -> Flask:
    """Build the app from the environment, or from `config` (tests), with optional services.

    Services: recommender, catalog, omdb, interactions; whatever isn't given is built on use.
    `instance_path` (default ./instance) holds the saved model, caches and the secret key.
    """
    app = Flask(__name__, instance_path=instance_path)
    if config is None:
        app.config.from_mapping(settings_module.from_environment())
    else:
        app.config.from_mapping(settings_module.check({**settings_module.defaults(), **config}))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.secret_key = app.config["SECRET_KEY"] or _instance_secret(Path(app.instance_path))
    app.extensions["movies"] = Services(app.config, app.instance_path, **services_given)

    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected_error)
    app.after_request(add_security_headers)
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
    from catalog import data_cli
    from engine import train_command
    from evaluate import evaluate_command
    from provision import personalize_cli

    for command in (data_cli, train_command, evaluate_command, personalize_cli):
        app.cli.add_command(command)


def main() -> None:
    """`python app.py`: serve on HOST:PORT (127.0.0.1:8080 by default), debug off."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # At DEBUG these log request URLs, and OMDb takes its key in the URL.
    for noisy in ("urllib3", "requests_cache"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
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
