"""The parts of a card rendered once per movie (card_parts.py): kept, and never stale."""

import pytest

from dataset import Movie
from omdb import MovieDetails

HEAT = Movie("6", "Heat", 1995, ("Action", "Crime"))


@pytest.fixture
def parts(make_app):
    app = make_app()
    with app.app_context():
        yield app.jinja_env.globals["card_parts"]


def test_a_movies_facts_are_rendered_once_and_then_reused(parts):
    first = parts.facts(HEAT, None, False)
    assert parts.facts(HEAT, None, False) is first
    assert parts.facts.cache_info().hits == 1
    assert "<li>Action</li><li>Crime</li>" in first


def test_new_omdb_details_give_new_facts_not_the_kept_ones(parts):
    without = parts.facts(HEAT, None, False)
    with_plot = parts.facts(HEAT, MovieDetails(plot="A heist.", runtime="170 min"), False)
    assert "A heist." not in without
    assert "A heist." in with_plot and "170 min" in with_plot
    assert "A heist." not in parts.facts(HEAT, MovieDetails(plot="A heist."), True)  # compact


def test_the_stars_show_the_users_own_rating(parts):
    assert parts.stars(HEAT, None).count("star on") == 0
    assert parts.stars(HEAT, 3.0).count("star on") == 3
    assert parts.stars(HEAT, 5.0).count("star on") == 5


def test_the_poster_falls_back_to_the_placeholder(parts):
    placeholder = "/static/placeholder-poster.svg"
    assert 'src="/static/placeholder-poster.svg"' in parts.poster(HEAT, None, placeholder)
    poster = parts.poster(HEAT, MovieDetails(poster_url="https://img.example/heat.jpg"),
                          placeholder)
    assert 'src="https://img.example/heat.jpg"' in poster and 'alt="Poster of Heat"' in poster


def test_a_title_is_escaped_in_every_part(parts):
    hostile = Movie("7", '<script>alert("x")</script>', None, ("<b>Drama</b>",))
    rendered = "".join([
        parts.poster(hostile, None, "/p.svg"), parts.facts(hostile, None, False),
        parts.stars(hostile, None),
    ])
    assert "<script>" not in rendered and "<b>" not in rendered
    assert "&lt;script&gt;" in rendered and "&lt;b&gt;Drama&lt;/b&gt;" in rendered
