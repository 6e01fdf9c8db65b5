"""Movie cards (card_parts.py): rendered once per movie, filled in for each visitor, never
stale, and escaped in every part."""

import pytest
from flask import session

from card_parts import CARDS_KEPT
from dataset import Movie
from omdb import MovieDetails
from pages import Card

HEAT = Movie("6", "Heat", 1995, ("Action", "Crime"))
PLACEHOLDER = 'src="/static/placeholder-poster.svg"'


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def parts(app):
    return app.jinja_env.globals["card_parts"]


def render(app, parts, cards, path="/recommendations?user_id=1", **options) -> str:
    with app.test_request_context(path):
        return str(parts.cards(cards, **options))


def test_a_movies_card_is_rendered_once_and_reused_for_another_visitor(app, parts):
    first = render(app, parts, [Card(HEAT, reason="Because you rated Ronin")], rate_as="1")
    second = render(app, parts, [Card(HEAT, reason="Because you rated Alien")], rate_as="2",
                    path="/recommendations?user_id=2")
    assert parts._pieces.cache_info().hits == 1
    assert 'href="/movies?item_id=6&amp;user_id=1"' in first
    assert 'href="/movies?item_id=6&amp;user_id=2"' in second and "user_id=1" not in second
    assert "Because you rated Ronin" in first and "Ronin" not in second
    assert '<input type="hidden" name="user_id" value="2">' in second


def test_each_visitors_form_carries_their_own_token(app, parts):
    tokens = []
    for _visitor in range(2):
        with app.test_request_context("/recommendations?user_id=1"):
            html = str(parts.cards([Card(HEAT)], rate_as="1"))
            tokens.append(session["csrf"])
            assert f'name="csrf_token" value="{session["csrf"]}"' in html
            assert 'name="next" value="/recommendations?user_id=1"' in html
    assert tokens[0] != tokens[1]


def test_new_omdb_details_give_a_new_card_not_the_kept_one(app, parts):
    without = render(app, parts, [Card(HEAT)], rate_as="1")
    details = MovieDetails(plot="A heist.", runtime="170 min",
                           poster_url="https://img.example/heat.jpg")
    with_details = render(app, parts, [Card(HEAT, details)], rate_as="1")
    assert "A heist." not in without and PLACEHOLDER in without
    assert "A heist." in with_details and "170 min" in with_details
    assert 'src="https://img.example/heat.jpg"' in with_details
    assert 'alt="Poster of Heat"' in with_details and PLACEHOLDER not in with_details


def test_the_stars_show_the_users_own_rating(app, parts):
    def lit(rating):
        return render(app, parts, [Card(HEAT, rating=rating)], rate_as="1").count("star on")

    assert [lit(None), lit(3.0), lit(5.0)] == [0, 3, 5]
    rated = render(app, parts, [Card(HEAT, rating=4.0)], rate_as="1")
    assert "Your rating" in rated and 'aria-label="Rated 4 out of 5"' in rated


def test_a_compact_card_has_no_form_reason_or_facts(app, parts):
    card = Card(HEAT, MovieDetails(plot="A heist."), reason="Because you rated Ronin", rating=5)
    compact = render(app, parts, [card], compact=True)
    assert 'class="card compact"' in compact and "★ 5" in compact
    assert "<form" not in compact and "Ronin" not in compact and "A heist." not in compact
    assert 'href="/movies?item_id=6"' in compact


def test_cards_keep_their_order(app, parts):
    ronin = Movie("7", "Ronin", 1998)
    html = render(app, parts, [Card(ronin), Card(HEAT), Card(ronin)])
    assert [html.index('data-item-id="7"'), html.index('data-item-id="6"')] == sorted(
        [html.index('data-item-id="7"'), html.index('data-item-id="6"')])
    assert html.count('data-item-id="7"') == 2


def test_the_movies_and_the_visitors_parts_are_escaped(app, parts):
    hostile = Movie("7", '<script>alert("x")</script>', None, ("<b>Drama</b>",))
    html = render(app, parts, [Card(hostile, reason="<i>you</i>")], rate_as='"><b>',
                  path="/recommendations?user_id=%22%3E%3Cb%3E")
    assert "<script>" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;Drama&lt;/b&gt;" in html
    assert "&lt;i&gt;you&lt;/i&gt;" in html
    assert 'name="user_id" value="&#34;&gt;&lt;b&gt;"' in html


def test_text_that_looks_like_a_marker_is_only_text(app, parts):
    sneaky = Movie("8", "\0movie_url\0 and \0reason\0", None)
    html = render(app, parts, [Card(sneaky, reason="why")], rate_as="1")
    assert "\0movie_url\0 and \0reason\0" in html
    assert html.count('href="/movies?item_id=8&amp;user_id=1"') == 2


def test_a_card_without_a_reason_has_no_reason_line(app, parts):
    render(app, parts, [Card(HEAT, reason="Because you rated Ronin")], rate_as="1")
    assert 'class="reason"' not in render(app, parts, [Card(HEAT)], rate_as="1")


def test_cards_without_a_user_to_rate_as_have_no_form(app, parts):
    html = render(app, parts, [Card(HEAT, reason="Because you rated Ronin")])
    assert "<form" not in html and "csrf_token" not in html
    assert "Because you rated Ronin" in html and 'href="/movies?item_id=6"' in html


def test_a_list_without_forms_starts_no_session(app, parts):
    with app.test_request_context("/recommendations?user_id=1"):
        parts.cards([Card(HEAT, rating=4)], compact=True)
        parts.cards([Card(HEAT)], rate_as="1", compact=True)
        assert "csrf" not in session


def test_a_list_is_its_cards_one_after_another(app, parts):
    ronin = Movie("7", "Ronin", 1998)
    with app.test_request_context("/recommendations?user_id=1"):  # one session, one token
        alone = [str(parts.cards([Card(movie)], rate_as="1")) for movie in (HEAT, ronin)]
        both = str(parts.cards([Card(HEAT), Card(ronin)], rate_as="1"))
    assert both == "".join(alone)


def test_the_kept_cards_are_bounded(app, parts):
    many = [Card(Movie(str(number), f"Film {number}")) for number in range(CARDS_KEPT + 5)]
    render(app, parts, many, compact=True)
    info = parts._pieces.cache_info()
    assert info.maxsize == CARDS_KEPT and info.currsize == CARDS_KEPT


def test_with_template_reloading_an_edited_card_template_shows_at_once(app, parts):
    from jinja2 import ChoiceLoader, DictLoader

    signature = ("movie, details, rating, movie_url, reason, placeholder, compact, form_action, "
                 "form_fields")
    edited = DictLoader({"_card.html": f"{{% macro card({signature}) %}}first {{{{ movie.title }}}}"
                                       "{% endmacro %}"})
    app.jinja_env.loader = ChoiceLoader([edited, app.jinja_env.loader])
    app.jinja_env.auto_reload = True  # as in debug mode
    assert render(app, parts, [Card(HEAT)]).strip() == "first Heat"
    edited.mapping["_card.html"] = edited.mapping["_card.html"].replace("first", "second")
    assert render(app, parts, [Card(HEAT)]).strip() == "second Heat"
