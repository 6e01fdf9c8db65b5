"""The pages beyond one list: a home of shelves, title search ranked for the user, and two
engines side by side. Views on pages.py's blueprint, so its error pages apply to them too."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request

import access
import config as settings_module
from compare import Comparison, compare, contenders
from dataset import Movie
from inputs import parse_choice, parse_count, parse_query
from pages import bp, cards_for
from recommender.interface import Recommendation, RecommenderUnavailable
from recommender.metrics import OFFLINE_METRICS
from search import Ranker, search_titles
from shelves import MORE_LENGTH, SHELF_LENGTH, SHELF_NAMES, home, one_shelf
from wiring import Wiring, current_wiring

SEARCH_LENGTH = 20  # results when the search doesn't say


# --- Home: shelves -------------------------------------------------------------------------------


@bp.get("/home")
@access.limited(access.READS)
def shelves_home() -> Any:
    """Rows of movies: Top picks, Because you watched X, Trending, Popular in a genre, Popular."""
    wiring = current_wiring()
    found = wiring.services
    user_id = access.optional_user(request.args.get("user_id"))
    page = home(found, wiring, user_id, SHELF_LENGTH)
    return render_template(
        "home.html",
        user_id=user_id,
        personal=page.personal,
        shelves=[(shelf, cards_for(found, shelf.items, page.history)) for shelf in page.shelves],
    )


@bp.get("/shelf")
@access.limited(access.READS)
def shelf_more() -> Any:
    """One shelf at length: its "see more" link."""
    wiring = current_wiring()
    found = wiring.services
    user_id = access.optional_user(request.args.get("user_id"))
    name = parse_choice(request.args.get("name"), SHELF_NAMES, "shelf", SHELF_NAMES[0])
    shelf = one_shelf(found, wiring, name, user_id, MORE_LENGTH)
    history = found.history(user_id) if user_id else []
    return render_template(
        "shelf.html",
        user_id=user_id,
        shelf=shelf,
        cards=cards_for(found, shelf.items, history) if shelf else [],
    )


# --- Search ----------------------------------------------------------------------------------


@bp.get("/search")
@access.limited(access.READS)
def search() -> Any:
    """Movies by title, ranked for the user when one is given."""
    wiring = current_wiring()
    found = wiring.services
    query = parse_query(request.args.get("q"))
    user_id = access.optional_user(request.args.get("user_id"))
    count = parse_count(request.args.get("n"), SEARCH_LENGTH)
    results = None
    cards = []
    if query:
        results = search_titles(
            wiring.titles, query, count, user_id=user_id, ranker=ranker_or_none(wiring)
        )
        history = found.history(user_id) if user_id else []
        cards = cards_for(found, movie_items(results.movies), history)
    return render_template(
        "search.html", query=query or "", user_id=user_id, results=results, cards=cards
    )


def ranker_or_none(wiring: Wiring) -> Ranker | None:
    """The ranker; None when it cannot even be set up (search then goes unranked)."""
    try:
        return wiring.ranker
    except RecommenderUnavailable:
        return None


def movie_items(movies: list[Movie]) -> list[Recommendation]:
    """Search results as the items cards are made from."""
    return [Recommendation(movie.item_id) for movie in movies]


# --- Compare ---------------------------------------------------------------------------------


@bp.get("/compare")
@access.limited(access.READS)
def compare_engines() -> Any:
    """Two lists for the same user, side by side, with what they share."""
    wiring = current_wiring()
    found = wiring.services
    user_id, count, result = comparison_asked(wiring)
    return render_template(
        "compare.html",
        user_id=user_id,
        count=count,
        comparison=result,
        recipes=settings_module.RECIPES,
        chooses_right=wiring.personalize_contender is None,
        metric_names=OFFLINE_METRICS,
        columns=[(column, [found.catalog.get(item.item_id) for item in column.items])
                 for column in (result.left, result.right)],
    )


def comparison_asked(wiring: Wiring) -> tuple[str, int, Comparison]:
    """The user, the list length and the comparison the request asks for (page and API)."""
    user_id = access.user_for(request.args.get("user_id"))
    left, right = chosen_recipes(request.args)
    count = parse_count(request.args.get("n"), current_app.config["NUM_RESULTS"])
    result = compare(wiring.services, *contenders(wiring, left, right), user_id,
                     current_app.instance_path, count)
    return user_id, count, result


def chosen_recipes(args: Any) -> tuple[str, str]:
    """The two embedded recipes asked for: the RECIPE setting against popularity-count."""
    recipes = settings_module.RECIPES
    default_left = current_app.config["RECIPE"]
    left = parse_choice(args.get("left"), recipes, "left recipe", default_left)
    default_right = "popularity-count" if left != "popularity-count" else recipes[0]
    right = parse_choice(args.get("right"), recipes, "right recipe", default_right)
    return left, right
