"""The recommender interface, and the Amazon Personalize backend behind it.

The web app talks only to `Recommender`; `choose_recommender` picks Amazon Personalize when a
campaign or recommender ARN is configured and the embedded engine otherwise.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from config import region_of

logger = logging.getLogger(__name__)


# Personalize's offline metrics (GetSolutionMetrics), which `flask evaluate` reports too.
OFFLINE_METRICS = (
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
)


@dataclass(frozen=True)
class Recommendation:
    item_id: str
    score: float | None = None
    reason: str | None = None  # why it was recommended, when the backend can say
    because: str | None = None  # the rated item that led to it ("because you rated X")


@dataclass(frozen=True)
class RecommendationList:
    items: list[Recommendation] = field(default_factory=list)
    # True when the user is unknown and the list is the popular-movies fallback.
    cold_start: bool = False


class RecommenderUnavailable(Exception):
    """The backend could not answer; `reason` says what failed, `hint` what to check."""

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


class Recommender(Protocol):
    @property
    def description(self) -> str:
        """Names the backend for people, e.g. "Amazon Personalize · campaign movies"."""
        ...

    def recommend(self, user_id: str, n: int) -> RecommendationList:
        """Top-n items for the user, never ones the user has already rated."""
        ...

    def health(self) -> dict[str, object]:
        """Facts for /healthz: the backend's name and whether it is ready."""
        ...


# ---------------------------------------------------------------------------------------------
# Amazon Personalize


def make_runtime_client(region: str, session: boto3.session.Session | None = None) -> Any:
    """A personalize-runtime client with bounded retries and timeouts, so a page never hangs."""
    return (session or boto3.session.Session()).client(
        "personalize-runtime", region_name=region or None, config=_client_config()
    )


def _client_config() -> BotoConfig:
    return BotoConfig(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=3,
        read_timeout=5,
    )


class PersonalizeRecommender:
    """Recommendations from a campaign (or a domain recommender) through GetRecommendations."""

    def __init__(
        self,
        runtime_client: Any,
        *,
        campaign_arn: str = "",
        recommender_arn: str = "",
        filter_arn: str = "",
        genre_filter_arn: str = "",
        sims_campaign_arn: str = "",
    ) -> None:
        if bool(campaign_arn) == bool(recommender_arn):
            raise ValueError("give exactly one of campaign_arn and recommender_arn")
        self._client = runtime_client
        self._target = (
            {"campaignArn": campaign_arn} if campaign_arn else {"recommenderArn": recommender_arn}
        )
        self.arn = campaign_arn or recommender_arn
        self.filter_arn = filter_arn
        self.genre_filter_arn = genre_filter_arn
        self.sims_campaign_arn = sims_campaign_arn

    @property
    def region(self) -> str:
        return self._client.meta.region_name or ""

    @property
    def description(self) -> str:
        kind, _, name = self.arn.split(":")[-1].partition("/")
        return f"Amazon Personalize · {kind} {name}"

    def recommend(self, user_id: str, n: int, *, genre: str | None = None) -> RecommendationList:
        """Top-n for the user; a genre needs the genre filter (INCLUDE ... IN ($GENRES))."""
        request: dict[str, Any] = {**self._target, "userId": user_id, "numResults": n}
        if genre is not None:
            if not self.genre_filter_arn:
                raise ValueError("filtering by genre needs genre_filter_arn")
            # String filter values are sent quoted, as Personalize's filter syntax requires.
            request["filterArn"] = self.genre_filter_arn
            request["filterValues"] = {"GENRES": json.dumps(genre)}
        elif self.filter_arn:
            request["filterArn"] = self.filter_arn
        response = self._call(request)
        return RecommendationList(items=[_recommendation(item) for item in response["itemList"]])

    def similar(self, item_id: str, n: int) -> list[Recommendation]:
        """"More like this" from a SIMS campaign; empty when none is configured."""
        if not self.sims_campaign_arn:
            return []
        request = {"campaignArn": self.sims_campaign_arn, "itemId": item_id, "numResults": n}
        return [_recommendation(item) for item in self._call(request)["itemList"]]

    def health(self) -> dict[str, object]:
        # No AWS call here: a health probe must not cost money or fail on throttling.
        return {"backend": "personalize", "arn": self.arn, "region": self.region}

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._client.get_recommendations(**request)
        except (BotoCoreError, ClientError) as error:
            raise explain_aws_error(error, arn=request.get("campaignArn") or self.arn,
                                    region=self.region) from error


def make_events_client(region: str, session: boto3.session.Session | None = None) -> Any:
    """A personalize-events client, for PutEvents."""
    return (session or boto3.session.Session()).client(
        "personalize-events", region_name=region or None, config=_client_config()
    )


class EventSender:
    """Sends ratings made in the app to an event tracker, so Personalize adapts at once."""

    def __init__(self, events_client: Any, tracking_id: str) -> None:
        self._client = events_client
        self._tracking_id = tracking_id

    def send_rating(
        self, session_id: str, user_id: str, item_id: str, rating: float, timestamp: int
    ) -> None:
        event = {
            "eventType": "rating",
            "eventValue": float(rating),
            "itemId": item_id,
            "sentAt": datetime.fromtimestamp(timestamp, tz=timezone.utc),
        }
        try:
            self._client.put_events(
                trackingId=self._tracking_id,
                sessionId=session_id,
                userId=user_id,
                eventList=[event],
            )
        except (BotoCoreError, ClientError) as error:
            region = self._client.meta.region_name or ""
            raise explain_aws_error(error, arn="event tracker", region=region) from error


def _recommendation(item: Mapping[str, Any]) -> Recommendation:
    reasons = item.get("reason") or []
    return Recommendation(
        item_id=item["itemId"], score=item.get("score"), reason=", ".join(reasons) or None
    )


_THROTTLING = {"ThrottlingException", "TooManyRequestsException", "LimitExceededException"}
_REFUSED = {
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
}


def explain_aws_error(error: Exception, *, arn: str, region: str) -> RecommenderUnavailable:
    """Turn a botocore error into a reason a person can act on."""
    logger.warning("Amazon Personalize call failed: %s", _error_code(error))
    arn_region = region_of(arn)
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return RecommenderUnavailable(
            "No AWS credentials were found.",
            "Configure credentials (aws configure, AWS_PROFILE or an instance role), or unset "
            "PERSONALIZE_CAMPAIGN_ARN to use the embedded recommender.",
        )
    if isinstance(error, NoRegionError):
        return RecommenderUnavailable(
            "No AWS region is configured.", "Set AWS_REGION to the campaign's region."
        )
    if isinstance(error, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)):
        return RecommenderUnavailable(
            f"Amazon Personalize in region {region or '?'} could not be reached.",
            "Check the network connection and AWS_REGION"
            + (f" (the ARN names {arn_region})." if arn_region else "."),
        )
    if not isinstance(error, ClientError):
        return RecommenderUnavailable(
            "The call to Amazon Personalize failed.", "See the app's log for the error type."
        )
    code = _error_code(error)
    message = error.response.get("Error", {}).get("Message", "")
    if code == "ResourceNotFoundException":
        hint = "Check PERSONALIZE_CAMPAIGN_ARN (or _RECOMMENDER_ARN) and that it is ACTIVE."
        if arn_region and region and arn_region != region:
            hint += f" AWS_REGION is {region} but the ARN names {arn_region}."
        return RecommenderUnavailable(f"Amazon Personalize has no resource {arn}.", hint)
    if code == "InvalidInputException":
        return RecommenderUnavailable(
            f"Amazon Personalize rejected the request: {message}",
            "Check the ARNs in the configuration (a filter must be ACTIVE and belong to the "
            "campaign's dataset group).",
        )
    if code in _THROTTLING:
        return RecommenderUnavailable(
            "Amazon Personalize is throttling requests.",
            "Wait a moment and try again; a busy campaign needs a higher minProvisionedTPS.",
        )
    if code in _REFUSED:
        return RecommenderUnavailable(
            "AWS refused the credentials or the permission.",
            "Check the credentials and that they allow personalize:GetRecommendations "
            "on this campaign.",
        )
    return RecommenderUnavailable(
        f"Amazon Personalize answered with an error ({code}).", message or "Try again later."
    )


def _error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "Unknown")
    return type(error).__name__
