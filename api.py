"""The JSON API: the pages' operations with the same validation, for scripts and other apps.

Errors are `{"error": ..., "detail": ...}` with status 400 (bad input), 404 (unknown movie or
path), 405, 415 (not JSON) or 503 (the recommender cannot answer).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

import access
from config import redact_account_ids
from dataset import Movie
from inputs import (
    InvalidInput,
    parse_count,
    parse_genre,
    parse_item_id,
    parse_rating,
    parse_session_id,
    parse_user_id,
)
from recommender.interface import Recommendation, RecommenderUnavailable
from services import UnknownItem
from wiring import current_services

bp = Blueprint("api", __name__, url_prefix="/api")
# Writes need a token unless ACCESS_MODE is open; this covers every later write endpoint too.
bp.before_request(access.check_api_token)


def error(status: int, message: str, detail: str) -> Any:
    return jsonify({"error": message, "detail": detail}), status


@bp.errorhandler(InvalidInput)
def _invalid(problem: InvalidInput) -> Any:
    return error(400, "invalid input", str(problem))


@bp.errorhandler(UnknownItem)
def _unknown_item(problem: UnknownItem) -> Any:
    return error(404, "unknown item", f"No movie with ID {problem.args[0]!r}.")


@bp.errorhandler(RecommenderUnavailable)
def _unavailable(problem: RecommenderUnavailable) -> Any:
    # ARNs in AWS messages name the account: callers need the resource, not the account ID.
    return error(503, redact_account_ids(problem.reason), redact_account_ids(problem.hint))


def http_error(problem: HTTPException) -> Any:
    """Errors under /api/ that no view raised (unknown path, wrong method) as JSON too."""
    return error(problem.code or 500, problem.name.lower(), problem.description or "")


def _item_json(item: Recommendation, movie: Movie) -> dict[str, Any]:
    return {
        "item_id": item.item_id,
        "title": movie.title,
        "year": movie.year,
        "genres": list(movie.genres),
        "imdb_id": movie.imdb_id,
        "score": item.score,
        "reason": item.reason if item.reason != "popular" else None,
        "because": item.because,
    }


@bp.get("/recommendations")
@access.limited(access.READS)
def recommendations() -> Any:
    found = current_services()
    user_id = parse_user_id(request.args.get("user_id"))
    count = parse_count(request.args.get("n"), current_app.config["NUM_RESULTS"])
    genre = parse_genre(request.args.get("genre"), found.catalog.genres)
    listing = found.recommend(user_id, count, genre=genre)
    return jsonify(
        {
            "user_id": user_id,
            "backend": listing.backend,
            "cold_start": listing.cold_start,
            "known_user": listing.known_user,
            "genre": genre,
            "items": [_item_json(item, found.catalog.get(item.item_id)) for item in listing.items],
        }
    )


@bp.get("/similar")
@access.limited(access.READS)
def similar() -> Any:
    found = current_services()
    item_id = parse_item_id(request.args.get("item_id"))
    count = parse_count(request.args.get("n"), current_app.config["NUM_RESULTS"])
    found.movie(item_id)  # 404 for an unknown item
    items, source = found.similar(item_id, count)
    return jsonify(
        {
            "item_id": item_id,
            "backend": source,
            "items": [_item_json(item, found.catalog.get(item.item_id)) for item in items],
        }
    )


@bp.post("/ratings")
@access.limited(access.WRITES)
def ratings() -> Any:
    """Record a rating: {"user_id": "1", "item_id": "42", "rating": 4}.

    Only JSON bodies are accepted: a cross-site page cannot send one without the browser
    asking first (CORS), which is what protects this endpoint from forged requests.
    """
    if not request.is_json:
        detail = "Send a JSON body with Content-Type: application/json."
        return error(415, "unsupported media type", detail)
    body = _json_body()
    if not isinstance(body, dict):
        raise InvalidInput("The body must be a JSON object with user_id, item_id and rating.")
    user_id = parse_user_id(_text(body.get("user_id")))
    item_id = parse_item_id(_text(body.get("item_id")))
    rating = parse_rating(body.get("rating"))
    session_id = parse_session_id(_text(body.get("session_id")), f"api-{user_id}")
    found = current_services()
    access.charge_new_user(user_id, found.history)
    source = access.rating_source(session_id)
    outcome = found.rate(user_id, item_id, rating, session_id, source=source)
    return (
        jsonify(
            {
                "user_id": user_id,
                "item_id": item_id,
                "rating": rating,
                "timestamp": outcome.timestamp,
                "sent_to_personalize": outcome.sent_to_personalize,
                "notice": outcome.notice,
            }
        ),
        201,
    )


def _json_body() -> Any:
    """The parsed body; None when it is not JSON."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        # `silent` covers only ValueError; the parser recurses once per level of nesting.
        raise InvalidInput("The JSON body is nested too deeply.") from None


def _text(value: Any) -> str | None:
    """IDs may arrive as JSON numbers; anything else that isn't text is rejected."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InvalidInput("user_id, item_id and session_id must be strings.")
