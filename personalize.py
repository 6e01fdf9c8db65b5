"""The Amazon Personalize backend: GetRecommendations, PutEvents, and AWS errors explained.

`PersonalizeRecommender` implements `recommender.interface.Recommender`; the app uses it when a
campaign or recommender ARN is configured, and the embedded engine otherwise. Every AWS failure
becomes `RecommenderUnavailable` with a reason and a hint.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as AwsConnectionError
from botocore.parsers import ResponseParserError

from config import region_of
from recommender.interface import (
    Rated,
    Recommendation,
    RecommendationList,
    RecommenderUnavailable,
)

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Amazon Personalize


# Every call to Personalize (GetRecommendations, PutEvents) fails within FAULT_BUDGET seconds:
# ATTEMPTS tries, each waiting at most CONNECT_TIMEOUT to connect and READ_TIMEOUT for an answer,
# and before each retry botocore's legacy back-off, rand(0, 1) s. The legacy mode is chosen
# because the standard mode also obeys an x-amz-retry-after header, which can add 5 s more.
# (READ_TIMEOUT bounds each wait for bytes: only an endpoint trickling its answer byte by byte
# could take longer, which AWS does not do.)
CONNECT_TIMEOUT = 1.5
READ_TIMEOUT = 2.0
ATTEMPTS = 2  # in total, the first one included
RETRY_BACKOFF = 1.0  # the most legacy mode waits before the second attempt
FAULT_BUDGET = ATTEMPTS * (CONNECT_TIMEOUT + READ_TIMEOUT) + (ATTEMPTS - 1) * RETRY_BACKOFF
MAX_NUM_RESULTS = 500  # GetRecommendations' largest numResults


def make_runtime_client(region: str, session: boto3.session.Session | None = None) -> Any:
    """A personalize-runtime client with bounded retries and timeouts, so a page never hangs."""
    return (session or boto3.session.Session()).client(
        "personalize-runtime", region_name=region or None, config=_client_config()
    )


def _client_config() -> BotoConfig:
    # total_max_attempts counts every call; botocore's own max_attempts would count retries only.
    return BotoConfig(
        retries={"mode": "legacy", "total_max_attempts": ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
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

    @property
    def similar_description(self) -> str:
        return "Amazon Personalize · SIMS campaign"

    @property
    def can_filter_by_genre(self) -> bool:
        """Personalize filters by genre only through a filter made for it."""
        return bool(self.genre_filter_arn)

    @property
    def flags_cold_start(self) -> bool:
        return False  # it answers users it has never seen with popular items, silently

    def recommend(
        self, user_id: str, n: int, *, exclude: Collection[str] = (), genre: str | None = None,
        history: Sequence[Rated] | None = None,
    ) -> RecommendationList:
        """Top-n for the user, none of `exclude`; a genre needs the genre filter. `history` is
        ignored: Personalize keeps the user's state itself, from the imports and PutEvents.

        Personalize may return items to exclude (without an exclusion filter, or ones rated
        since the last training): ask for as many more as there are, and drop them here.
        """
        asked = min(n + len(exclude), MAX_NUM_RESULTS)
        request: dict[str, Any] = {**self._target, "userId": user_id, "numResults": asked}
        if genre is not None:
            if not self.genre_filter_arn:
                raise ValueError("filtering by genre needs genre_filter_arn")
            # A call takes one filter: the genre filter stands in for filter_arn, so its
            # expression has to chain filter_arn's conditions for them to hold here too.
            # String filter values are sent quoted, as Personalize's filter syntax requires.
            request["filterArn"] = self.genre_filter_arn
            request["filterValues"] = {"GENRES": json.dumps(genre)}
        elif self.filter_arn:
            request["filterArn"] = self.filter_arn
        skip = set(exclude)
        kept = [item for item in self._call(request) if item.item_id not in skip]
        return RecommendationList(items=kept[:n])

    def popular(
        self, n: int, *, exclude: Collection[str] = (), genre: str | None = None
    ) -> list[Recommendation] | None:
        """None: a user-personalization campaign has no popular list of its own."""
        return None

    def similar(self, item_id: str, n: int) -> list[Recommendation] | None:
        """"More like this" from a SIMS campaign, through filter_arn; None without a campaign."""
        if not self.sims_campaign_arn:
            return None
        request = {"campaignArn": self.sims_campaign_arn, "itemId": item_id, "numResults": n}
        if self.filter_arn:
            request["filterArn"] = self.filter_arn
        return self._call(request)

    def explain(
        self, user_id: str, item_ids: Sequence[str], *, among: Collection[str] | None = None,
        history: Sequence[Rated] | None = None,
    ) -> dict[str, str] | None:
        """None: GetRecommendations does not say which rated item led to a recommendation."""
        return None

    def health(self) -> dict[str, object]:
        # No AWS call here: a health probe must not cost money or fail on throttling.
        return {"backend": "personalize", "arn": self.arn, "region": self.region}

    def _call(self, request: dict[str, Any]) -> list[Recommendation]:
        """The answer's recommendations; RecommenderUnavailable for any failure or odd answer."""
        arn = request.get("campaignArn") or self.arn
        try:
            response = self._client.get_recommendations(**request)
        except _AWS_FAILURES as error:
            raise explain_aws_error(error, arn=arn, region=self.region) from error
        return recommendations_from(response, arn=arn)


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
        except _AWS_FAILURES as error:
            region = self._client.meta.region_name or ""
            raise explain_aws_error(error, arn="event tracker", region=region) from error


def recommendations_from(response: object, *, arn: str) -> list[Recommendation]:
    """The readable items of a GetRecommendations answer; RecommenderUnavailable if it is none.

    botocore checks only what it can parse, so anything may arrive here: a proxy's page or an
    empty body become `{}`. Items without a usable itemId are dropped, odd scores ignored.
    """
    items = response.get("itemList") if isinstance(response, Mapping) else None
    readable = [_recommendation(item) for item in items] if isinstance(items, list) else []
    kept = [item for item in readable if item is not None]
    if not isinstance(items, list) or (items and not kept):
        logger.warning("Amazon Personalize's answer holds no readable itemList (%s)", arn)
        raise RecommenderUnavailable(
            "Amazon Personalize sent an answer that is not a list of recommendations.",
            _ODD_ANSWER_HINT,
        )
    if len(kept) < len(items):
        logger.warning("Dropped %d unreadable items from Personalize's answer (%s)",
                       len(items) - len(kept), arn)
    return kept


def _recommendation(item: object) -> Recommendation | None:
    if not isinstance(item, Mapping):
        return None
    item_id = item.get("itemId")
    if not isinstance(item_id, str) or not item_id.strip():
        return None
    score = item.get("score")
    reasons = item.get("reason")
    return Recommendation(
        item_id=item_id,
        score=float(score) if _is_number(score) else None,
        reason=(", ".join(reasons) or None) if _are_strings(reasons) else None,
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _are_strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(part, str) for part in value)


# What a botocore call can raise. Its parser turns a wrong-shaped body (a JSON array, an item
# that is not an object, a score that is not a number) into AttributeError, TypeError or
# ValueError, and some bodies into ResponseParserError, which is no BotoCoreError.
_AWS_FAILURES = (
    BotoCoreError, ClientError, ResponseParserError, AttributeError, TypeError, ValueError
)
AWS_FAILURES = _AWS_FAILURES  # for the other runtime calls (personalize_shelves.py)
_NETWORK_FAILURES = (AwsConnectionError, HTTPClientError)  # refused, timed out, reset, closed
_ODD_ANSWER_HINT = (
    "Something between the app and AWS (a proxy or a firewall) may have answered instead: "
    "check the network and any HTTPS_PROXY setting, then try again."
)
_SERVER_ERROR_HINT = (
    "The fault is on AWS's side (or a proxy's): try again in a minute, and check the AWS Health "
    "Dashboard for Amazon Personalize in this region if it persists."
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
    """Turn a botocore error into a reason a person can act on; upstream text stays in the log."""
    logger.warning("Amazon Personalize call failed: %s", _error_code(error))
    if isinstance(error, ClientError):
        return _explain_error_answer(error, arn=arn, region=region)
    return _explain_no_answer(error, arn=arn, region=region)


def _explain_no_answer(error: Exception, *, arn: str, region: str) -> RecommenderUnavailable:
    """A call that got no usable answer: set-up, network, or a body botocore could not read."""
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
    if isinstance(error, _NETWORK_FAILURES):
        arn_region = region_of(arn)
        return RecommenderUnavailable(
            f"Amazon Personalize in region {region or '?'} {_network_failure(error)}.",
            "Check the network connection (and any proxy) and AWS_REGION"
            + (f" (the ARN names {arn_region})." if arn_region else "."),
        )
    if isinstance(error, (ResponseParserError, AttributeError, TypeError, ValueError)):
        return RecommenderUnavailable(
            "Amazon Personalize sent an answer that could not be read.", _ODD_ANSWER_HINT
        )
    return RecommenderUnavailable(
        "The call to Amazon Personalize failed.", "See the app's log for the error type."
    )


def _network_failure(error: Exception) -> str:
    if isinstance(error, ReadTimeoutError):
        return f"did not answer within {READ_TIMEOUT:g} s"
    if isinstance(error, AwsConnectionError):  # refused, connect timeout, DNS, TLS, proxy
        return "could not be reached"
    return "closed the connection without answering"


def _explain_error_answer(error: ClientError, *, arn: str, region: str) -> RecommenderUnavailable:
    """An error answer: the known codes get their own advice, the rest a fixed one."""
    code = _error_code(error)
    message = str(error.response.get("Error", {}).get("Message", ""))
    if code == "ResourceNotFoundException":
        arn_region = region_of(arn)
        hint = "Check PERSONALIZE_CAMPAIGN_ARN (or _RECOMMENDER_ARN) and that it is ACTIVE."
        if arn_region and region and arn_region != region:
            hint += f" AWS_REGION is {region} but the ARN names {arn_region}."
        return RecommenderUnavailable(f"Amazon Personalize has no resource {arn}.", hint)
    if code == "InvalidInputException":
        # Personalize's own validation message names the bad value, so it is worth showing.
        return RecommenderUnavailable(
            f"Amazon Personalize rejected the request: {message[:300]}",
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
    # Anything else may not even come from AWS (a proxy's error page): log it, never show it.
    logger.warning("Amazon Personalize's error answer said: %r", message[:300])
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if isinstance(status, int) and status >= 500:
        return RecommenderUnavailable(
            f"Amazon Personalize answered with a server error (HTTP {status}).",
            _SERVER_ERROR_HINT,
        )
    shown = code if _ERROR_CODE.fullmatch(code) else f"HTTP {status}"
    return RecommenderUnavailable(
        f"Amazon Personalize answered with an error ({shown}).",
        "See the app's log for the error message.",
    )


_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9.]{0,63}")  # what AWS error codes look like


def _error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "Unknown")
    return type(error).__name__
