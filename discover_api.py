"""The JSON API of the shelves, search and compare pages, on api.py's blueprint (so its JSON
errors apply): /api/home, /api/search, /api/compare."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

import access
from api import bp
from compare import Column
from config import redact_account_ids
from dataset import Catalog, Movie
from discover_pages import SEARCH_LENGTH, comparison_asked, ranker_or_none
from inputs import parse_count, parse_query
from recommender.interface import Recommendation
from search import search_titles
from shelves import SHELF_LENGTH, home
from wiring import current_wiring


def movie_json(movie: Movie, item: Recommendation | None = None) -> dict[str, Any]:
    return {
        "item_id": movie.item_id,
        "title": movie.title,
        "year": movie.year,
        "genres": list(movie.genres),
        "imdb_id": movie.imdb_id,
        **({"score": item.score} if item is not None else {}),
    }


def items_json(catalog: Catalog, items: list[Recommendation]) -> list[dict[str, Any]]:
    return [movie_json(catalog.get(item.item_id), item) for item in items]


@bp.get("/home")
@access.limited(access.READS)
def shelves_home() -> Any:
    """The shelves of /home: each with its items, who served it and why."""
    wiring = current_wiring()
    found = wiring.services
    user_id = access.optional_user(request.args.get("user_id"))
    count = parse_count(request.args.get("n"), SHELF_LENGTH)
    page = home(found, wiring, user_id, count)
    shelves = [
        {
            "name": shelf.name,
            "title": shelf.title,
            "served_by": redact_account_ids(shelf.served_by),
            "note": shelf.note,
            "problem": redact_account_ids(shelf.problem) if shelf.problem else None,
            "item_id": shelf.item_id,
            "genre": shelf.genre,
            "cold_start": shelf.cold_start,
            "items": items_json(found.catalog, shelf.items),
        }
        for shelf in page.shelves
    ]
    return jsonify({"user_id": user_id, "personal": page.personal, "shelves": shelves})


@bp.get("/search")
@access.limited(access.READS)
def search() -> Any:
    """Titles matching `q`, ranked for `user_id` when given and a ranking could be applied."""
    wiring = current_wiring()
    query = parse_query(request.args.get("q"))
    user_id = access.optional_user(request.args.get("user_id"))
    count = parse_count(request.args.get("n"), SEARCH_LENGTH)
    if query is None:
        return jsonify({"query": "", "user_id": user_id, "ranked": False, "ranked_by": None,
                        "notice": None, "items": []})
    results = search_titles(wiring.titles, query, count, user_id=user_id,
                            ranker=ranker_or_none(wiring) if user_id else None)
    return jsonify(
        {
            "query": query,
            "user_id": user_id,
            "ranked": results.ranked,
            "ranked_by": redact_account_ids(results.ranked_by) if results.ranked_by else None,
            "notice": redact_account_ids(results.notice) if results.notice else None,
            "items": [movie_json(movie) for movie in results.movies],
        }
    )


@bp.get("/compare")
@access.limited(access.READS)
def compare_engines() -> Any:
    """Two lists for the user, what they share, each item's rank in the other, the metrics."""
    wiring = current_wiring()
    found = wiring.services
    user_id, _count, result = comparison_asked(wiring)
    return jsonify(
        {
            "user_id": user_id,
            "overlap": result.overlap,
            "shared": sorted(result.shared),
            "left": column_json(found.catalog, result.left),
            "right": column_json(found.catalog, result.right),
        }
    )


def column_json(catalog: Catalog, column: Column) -> dict[str, Any]:
    items = items_json(catalog, column.items)
    for item in items:
        item["rank_in_other"] = column.rank_in_other.get(item["item_id"])
    return {
        "label": column.label,
        "recipe": column.recipe,
        "backend": redact_account_ids(column.backend),
        "cold_start": column.cold_start,
        "problem": redact_account_ids(column.problem) if column.problem else None,
        "items": items,
        "metrics": column.metrics.figures if column.metrics else None,
        "metrics_source": column.metrics.source if column.metrics else None,
        "metrics_hint": column.metrics_hint,
    }
