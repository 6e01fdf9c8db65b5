"""The registry of embedded recipes: each one's name, as Amazon Personalize spells it, and class.

A recipe is a subclass of `base.EmbeddedRecommender` in a module of its own; adding one is that
module and one line in RECIPE_CLASSES. Classes are named as "module:class" and imported when
first asked for (`base.recipe_class`), so reading the names, as the settings do to check
RECIPE, loads neither numpy nor implicit. This module imports nothing of the project.
"""

from __future__ import annotations

# name: "module:class". The order is the order `flask evaluate` reports them in.
RECIPE_CLASSES = {
    "user-personalization": "recommender.user_personalization:UserPersonalization",
    "popularity-count": "recommender.popularity_count:PopularityCount",
    "sims": "recommender.sims:Sims",
    "trending-now": "recommender.trending_now:TrendingNow",
}
RECIPES = tuple(RECIPE_CLASSES)
DEFAULT_RECIPE = "user-personalization"
# trending-now's window, here (not in model_files) so the settings read it without numpy.
DEFAULT_TRENDING_WINDOW_DAYS = 30.0


def normalize_recipe(name: str) -> str:
    """Accept Personalize's spellings too: "aws-user-personalization", a recipe ARN, "-v2"."""
    short = name.strip().lower().rsplit("/", 1)[-1].removeprefix("aws-").removesuffix("-v2")
    if short not in RECIPE_CLASSES:
        raise ValueError(f"unknown recipe {name!r}; expected one of {', '.join(RECIPES)}")
    return short
