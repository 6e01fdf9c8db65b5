"""The links on a page's cards: built once per page, and the same text url_for would write."""

from __future__ import annotations

import re

import pytest
from flask import url_for

from pages import page_links


def count_url_for_calls(app) -> list[str]:
    """Wraps the templates' url_for; returns the list each call is recorded in."""
    calls: list[str] = []
    real = app.jinja_env.globals["url_for"]

    def counting(endpoint: str, **values: object) -> str:
        calls.append(endpoint)
        return real(endpoint, **values)

    app.jinja_env.globals["url_for"] = counting
    return calls


def test_a_results_page_builds_its_links_once_however_many_cards_it_shows(make_app):
    app = make_app()
    client = app.test_client()
    calls = count_url_for_calls(app)
    per_page = {}
    for n in (2, 5):
        calls.clear()
        page = client.get(f"/recommendations?user_id=0&n={n}")
        assert page.status_code == 200
        assert len(re.findall(r'<article class="card"', page.get_data(as_text=True))) == n
        per_page[n] = len(calls)

    assert per_page[5] == per_page[2]


@pytest.mark.parametrize("item_id", ["1", "tt 42", "a&b=c", "é/ü?#", "x+y%20z", "!$'()*,/:;@"])
@pytest.mark.parametrize("user_id", [None, "", "7", "guest-1a2b", "a b&c/é?#=", "~_.-"])
def test_a_card_links_to_its_movie_as_url_for_would(make_app, item_id, user_id):
    app = make_app()
    with app.test_request_context("/recommendations?user_id=7"):
        expected = url_for("movies.movie", item_id=item_id, user_id=user_id or None)

        assert page_links().movie(item_id, user_id) == expected


def test_links_carry_the_script_root_of_an_app_mounted_below_the_site_root(make_app):
    app = make_app()
    with app.test_request_context("/recommendations", base_url="http://example.test/recs/"):
        links = page_links()

        assert links.movie("1", "7") == "/recs/movies?item_id=1&user_id=7"
        assert links.placeholder_poster == "/recs/static/placeholder-poster.svg"
        assert links.rate == "/recs/ratings"
