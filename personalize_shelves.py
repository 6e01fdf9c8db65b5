"""Amazon Personalize beyond one list: GetPersonalizedRanking, and a shelf's own ARN.

`PersonalizeRanker` re-orders search results for a user with a Personalized-Ranking campaign.
`PersonalizeRelated` answers "Because you watched X" from a related-items campaign (SIMS:
itemId) or a VIDEO_ON_DEMAND recommender such as aws-vod-because-you-watched-x (userId and
itemId). `shelf_recommender` points the existing `PersonalizeRecommender` at a shelf's campaign
or recommender ARN (Trending now, Most popular). Failures become `RecommenderUnavailable`, as
in personalize.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from personalize import (
    AWS_FAILURES,
    PersonalizeRecommender,
    explain_aws_error,
    recommendations_from,
)
from recommender.interface import Recommendation

MAX_RANKING_INPUT = 500  # GetPersonalizedRanking's largest inputList


def is_recommender_arn(arn: str) -> bool:
    """A domain recommender (…:recommender/NAME) rather than a campaign."""
    return arn.split(":")[-1].startswith("recommender/")


def describe(arn: str) -> str:
    """"Amazon Personalize · recommender vod-trending" for people (no account ID)."""
    kind, _, name = arn.split(":")[-1].partition("/")
    return f"Amazon Personalize · {kind} {name}"


def shelf_recommender(runtime_client: Any, arn: str, *, genre_filter_arn: str = "") -> (
    PersonalizeRecommender
):
    """GetRecommendations against one shelf's campaign or recommender."""
    target = {"recommender_arn": arn} if is_recommender_arn(arn) else {"campaign_arn": arn}
    return PersonalizeRecommender(runtime_client, genre_filter_arn=genre_filter_arn, **target)


class PersonalizeRanker:
    """Search results ranked for a user by a Personalized-Ranking campaign."""

    def __init__(self, runtime_client: Any, campaign_arn: str) -> None:
        self._client = runtime_client
        self.arn = campaign_arn

    @property
    def description(self) -> str:
        return describe(self.arn)

    def rank(self, user_id: str, item_ids: Sequence[str]) -> list[str] | None:
        """Every item, the user's best first; items the campaign doesn't know come last."""
        if not item_ids:
            return []
        request = {
            "campaignArn": self.arn,
            "userId": user_id,
            "inputList": list(item_ids[:MAX_RANKING_INPUT]),
        }
        try:
            response = self._client.get_personalized_ranking(**request)
        except AWS_FAILURES as error:
            region = self._client.meta.region_name or ""
            raise explain_aws_error(error, arn=self.arn, region=region) from error
        ranking = response.get("personalizedRanking") if isinstance(response, Mapping) else None
        ranked = recommendations_from({"itemList": ranking}, arn=self.arn)
        place = {item.item_id: position for position, item in enumerate(ranked)}
        return sorted(item_ids, key=lambda item_id: place.get(item_id, len(place)))


class PersonalizeRelated:
    """Items related to one the user watched: "Because you watched X"."""

    def __init__(self, runtime_client: Any, arn: str) -> None:
        self._client = runtime_client
        self.arn = arn

    @property
    def description(self) -> str:
        return describe(self.arn)

    def related(self, user_id: str, item_id: str, n: int) -> list[Recommendation]:
        # A VOD recommender personalizes the related items, so it takes the user too; a
        # RELATED_ITEMS campaign takes the item only.
        if is_recommender_arn(self.arn):
            request = {"recommenderArn": self.arn, "userId": user_id, "itemId": item_id}
        else:
            request = {"campaignArn": self.arn, "itemId": item_id}
        try:
            response = self._client.get_recommendations(**request, numResults=n)
        except AWS_FAILURES as error:
            region = self._client.meta.region_name or ""
            raise explain_aws_error(error, arn=self.arn, region=region) from error
        return recommendations_from(response, arn=self.arn)
