"""The Amazon Personalize backend, against botocore's Stubber (parameters checked by the model)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from aws_support import CAMPAIGN, stubbed
from botocore.exceptions import (
    BotoCoreError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from personalize import (
    EventSender,
    PersonalizeRecommender,
    make_runtime_client,
    recommendations_from,
)
from recommender.interface import Recommendation, RecommenderUnavailable

RECOMMENDER = "arn:aws:personalize:us-east-1:123456789012:recommender/top-picks"
FILTER = "arn:aws:personalize:us-east-1:123456789012:filter/unwatched"
GENRE_FILTER = "arn:aws:personalize:us-east-1:123456789012:filter/by-genre"
SIMS = "arn:aws:personalize:us-east-1:123456789012:campaign/movies-sims"


@pytest.fixture
def runtime():
    with stubbed("personalize-runtime") as client_and_stubber:
        yield client_and_stubber


def item_list(*ids: str) -> dict:
    return {
        "itemList": [{"itemId": item, "score": 1.0 / (rank + 1)} for rank, item in enumerate(ids)],
        "recommendationId": "RID-1",
    }


def test_campaign_recommendations_pass_user_and_count(runtime):
    client, stubber = runtime
    stubber.add_response(
        "get_recommendations",
        item_list("Heat (1995)", "Alien (1979)"),
        {"campaignArn": CAMPAIGN, "userId": "42", "numResults": 2},
    )
    listing = PersonalizeRecommender(client, campaign_arn=CAMPAIGN).recommend("42", 2)
    assert [item.item_id for item in listing.items] == ["Heat (1995)", "Alien (1979)"]
    assert listing.items[0].score == 1.0
    assert listing.cold_start is False


def test_recommender_arn_is_sent_instead_of_campaign(runtime):
    client, stubber = runtime
    stubber.add_response(
        "get_recommendations",
        item_list("1"),
        {"recommenderArn": RECOMMENDER, "userId": "u/1 é", "numResults": 1},
    )
    backend = PersonalizeRecommender(client, recommender_arn=RECOMMENDER)
    assert backend.recommend("u/1 é", 1).items == [Recommendation("1", 1.0)]
    assert backend.description == "Amazon Personalize · recommender top-picks"


def test_the_configured_filter_is_sent_with_every_request(runtime):
    client, stubber = runtime
    stubber.add_response(
        "get_recommendations",
        item_list("7"),
        {"campaignArn": CAMPAIGN, "userId": "1", "numResults": 5, "filterArn": FILTER},
    )
    backend = PersonalizeRecommender(client, campaign_arn=CAMPAIGN, filter_arn=FILTER)
    assert backend.recommend("1", 5).items[0].item_id == "7"


def test_a_genre_goes_through_the_genre_filter_with_a_quoted_value(runtime):
    client, stubber = runtime
    stubber.add_response(
        "get_recommendations",
        item_list("7"),
        {
            "campaignArn": CAMPAIGN,
            "userId": "1",
            "numResults": 5,
            "filterArn": GENRE_FILTER,
            "filterValues": {"GENRES": '"Sci-Fi"'},
        },
    )
    backend = PersonalizeRecommender(
        client, campaign_arn=CAMPAIGN, filter_arn=FILTER, genre_filter_arn=GENRE_FILTER
    )
    assert backend.recommend("1", 5, genre="Sci-Fi").items[0].item_id == "7"


def test_a_genre_without_a_genre_filter_is_refused_before_any_call(runtime):
    client, _stubber = runtime
    with pytest.raises(ValueError):
        PersonalizeRecommender(client, campaign_arn=CAMPAIGN).recommend("1", 5, genre="Drama")


def test_reasons_from_user_personalization_v2_are_kept(runtime):
    client, stubber = runtime
    response = {"itemList": [{"itemId": "9", "reason": ["Exploration"]}]}
    stubber.add_response("get_recommendations", response, None)
    listing = PersonalizeRecommender(client, campaign_arn=CAMPAIGN).recommend("1", 1)
    assert listing.items[0].reason == "Exploration"


def test_several_reasons_are_joined_with_commas(runtime):
    client, stubber = runtime
    reasons = ["Promoted item", "Exploration"]
    stubber.add_response("get_recommendations", {"itemList": [{"itemId": "9", "reason": reasons}]})
    listing = PersonalizeRecommender(client, campaign_arn=CAMPAIGN).recommend("1", 1)
    assert listing.items[0].reason == "Promoted item, Exploration"


def test_unreadable_items_are_counted_in_the_log_and_a_clean_answer_logs_nothing(caplog):
    answer = {"itemList": [{"itemId": "h1"}, {"itemId": 42}, {"itemId": "c2"}]}
    assert [item.item_id for item in recommendations_from(answer, arn=CAMPAIGN)] == ["h1", "c2"]
    assert caplog.messages == [
        f"Dropped 1 unreadable items from Personalize's answer ({CAMPAIGN})"
    ]
    caplog.clear()
    recommendations_from({"itemList": [{"itemId": "h1"}]}, arn=CAMPAIGN)
    assert caplog.messages == []


@pytest.mark.parametrize("answer", [["h1"], "itemList", None, {"itemList": {"itemId": "h1"}}])
def test_an_answer_of_any_other_shape_is_unavailable_and_logged_with_the_arn(answer, caplog):
    with pytest.raises(RecommenderUnavailable) as caught:
        recommendations_from(answer, arn=CAMPAIGN)
    assert caught.value.reason == (
        "Amazon Personalize sent an answer that is not a list of recommendations."
    )
    assert any("no readable itemList" in line and CAMPAIGN in line for line in caplog.messages)


def test_similar_items_use_the_sims_campaign(runtime):
    client, stubber = runtime
    stubber.add_response(
        "get_recommendations",
        item_list("2", "3"),
        {"campaignArn": SIMS, "itemId": "1", "numResults": 2},
    )
    backend = PersonalizeRecommender(client, campaign_arn=CAMPAIGN, sims_campaign_arn=SIMS)
    assert [item.item_id for item in backend.similar("1", 2)] == ["2", "3"]


@pytest.mark.parametrize("target", [{"campaign_arn": CAMPAIGN}, {"recommender_arn": RECOMMENDER}])
def test_a_missing_sims_campaign_is_named_not_the_main_one(runtime, target):
    client, stubber = runtime
    stubber.add_client_error("get_recommendations", "ResourceNotFoundException", "", 404)
    backend = PersonalizeRecommender(client, sims_campaign_arn=SIMS, **target)
    with pytest.raises(RecommenderUnavailable) as caught:
        backend.similar("1", 2)
    assert caught.value.reason == f"Amazon Personalize has no resource {SIMS}."


def test_a_missing_recommender_is_named(runtime):
    client, stubber = runtime
    stubber.add_client_error("get_recommendations", "ResourceNotFoundException", "", 404)
    with pytest.raises(RecommenderUnavailable) as caught:
        PersonalizeRecommender(client, recommender_arn=RECOMMENDER).recommend("1", 2)
    assert caught.value.reason == f"Amazon Personalize has no resource {RECOMMENDER}."


def test_unreadable_items_in_a_sims_answer_are_logged_with_the_sims_campaign(runtime, caplog):
    client, stubber = runtime
    stubber.add_response("get_recommendations", {"itemList": [{"itemId": "2"}, {"itemId": " "}]})
    backend = PersonalizeRecommender(client, campaign_arn=CAMPAIGN, sims_campaign_arn=SIMS)
    assert [item.item_id for item in backend.similar("1", 2)] == ["2"]
    assert any(SIMS in line for line in caplog.messages)


def test_similar_items_go_through_the_configured_filter_too(runtime):
    client, stubber = runtime
    stubber.add_response(
        "get_recommendations",
        item_list("2"),
        {"campaignArn": SIMS, "itemId": "1", "numResults": 1, "filterArn": FILTER},
    )
    backend = PersonalizeRecommender(
        client, campaign_arn=CAMPAIGN, filter_arn=FILTER, sims_campaign_arn=SIMS
    )
    assert [item.item_id for item in backend.similar("1", 1)] == ["2"]


def test_movies_the_user_rated_are_asked_for_on_top_and_dropped(runtime):
    # Personalize may still return them (no exclusion filter, or rated since training):
    # one more is asked for per movie to exclude, so the page still gets n.
    client, stubber = runtime
    stubber.add_response(
        "get_recommendations",
        item_list("rated-1", "7", "rated-2", "8"),
        {"campaignArn": CAMPAIGN, "userId": "1", "numResults": 4},
    )
    backend = PersonalizeRecommender(client, campaign_arn=CAMPAIGN)
    listing = backend.recommend("1", 2, exclude=["rated-1", "rated-2"])
    assert [item.item_id for item in listing.items] == ["7", "8"]


def test_the_count_asked_of_personalize_stops_at_its_maximum(runtime):
    client, stubber = runtime
    stubber.add_response(
        "get_recommendations",
        item_list("7"),
        {"campaignArn": CAMPAIGN, "userId": "1", "numResults": 500},
    )
    backend = PersonalizeRecommender(client, campaign_arn=CAMPAIGN)
    rated = [f"rated-{index}" for index in range(600)]
    assert [item.item_id for item in backend.recommend("1", 10, exclude=rated).items] == ["7"]


def test_similar_items_without_a_sims_campaign_make_no_call(runtime):
    client, _stubber = runtime  # any call would fail: nothing is queued
    # None, not []: "this backend cannot tell", so the app asks its fallback instead.
    assert PersonalizeRecommender(client, campaign_arn=CAMPAIGN).similar("1", 5) is None


def test_exactly_one_arn_is_required(runtime):
    client, _stubber = runtime
    with pytest.raises(ValueError):
        PersonalizeRecommender(client)
    with pytest.raises(ValueError):
        PersonalizeRecommender(client, campaign_arn=CAMPAIGN, recommender_arn=RECOMMENDER)


NOT_FOUND_HINT = "Check PERSONALIZE_CAMPAIGN_ARN (or _RECOMMENDER_ARN) and that it is ACTIVE."
REFUSED = (
    "AWS refused the credentials or the permission.",
    "Check the credentials and that they allow personalize:GetRecommendations on this campaign.",
)


# What the 503 page and the API's error say, word for word: a person acts on these.
@pytest.mark.parametrize(
    ("code", "status", "reason", "hint"),
    [
        ("ResourceNotFoundException", 404, f"Amazon Personalize has no resource {CAMPAIGN}.",
         NOT_FOUND_HINT),
        ("InvalidInputException", 400,
         "Amazon Personalize rejected the request: details from AWS",
         "Check the ARNs in the configuration (a filter must be ACTIVE and belong to the "
         "campaign's dataset group)."),
        ("ThrottlingException", 400, "Amazon Personalize is throttling requests.",
         "Wait a moment and try again; a busy campaign needs a higher minProvisionedTPS."),
        ("AccessDeniedException", 403, *REFUSED),
        ("UnrecognizedClientException", 403, *REFUSED),
        ("InternalFailure", 500, "Amazon Personalize answered with a server error (HTTP 500).",
         "The fault is on AWS's side (or a proxy's): try again in a minute, and check the AWS "
         "Health Dashboard for Amazon Personalize in this region if it persists."),
        ("SomethingNewException", 400,
         "Amazon Personalize answered with an error (SomethingNewException).",
         "See the app's log for the error message."),
    ],
)
def test_service_errors_become_unavailable_with_a_hint(runtime, code, status, reason, hint):
    client, stubber = runtime
    stubber.add_client_error("get_recommendations", code, "details from AWS", status)
    with pytest.raises(RecommenderUnavailable) as caught:
        PersonalizeRecommender(client, campaign_arn=CAMPAIGN).recommend("1", 10)
    assert (caught.value.reason, caught.value.hint) == (reason, hint)


def test_personalizes_validation_message_is_shown_up_to_300_characters(runtime):
    client, stubber = runtime
    stubber.add_client_error("get_recommendations", "InvalidInputException", "x" * 400, 400)
    with pytest.raises(RecommenderUnavailable) as caught:
        PersonalizeRecommender(client, campaign_arn=CAMPAIGN).recommend("1", 10)
    assert caught.value.reason == "Amazon Personalize rejected the request: " + "x" * 300


def test_an_error_code_that_does_not_look_like_aws_s_is_not_shown(runtime):
    # A proxy's error page can fill the code with its own text: only the status is shown then.
    client, stubber = runtime
    stubber.add_client_error("get_recommendations", "<b>Blocked by policy</b>", "", 400)
    with pytest.raises(RecommenderUnavailable) as caught:
        PersonalizeRecommender(client, campaign_arn=CAMPAIGN).recommend("1", 10)
    assert caught.value.reason == "Amazon Personalize answered with an error (HTTP 400)."


def test_an_unknown_error_is_logged_with_its_message_but_not_shown(runtime, caplog):
    # Its text may come from a proxy rather than AWS: the operator reads it, the user does not.
    client, stubber = runtime
    stubber.add_client_error("get_recommendations", "SomethingNewException", "odd detail", 400)
    with pytest.raises(RecommenderUnavailable) as caught:
        PersonalizeRecommender(client, campaign_arn=CAMPAIGN).recommend("1", 10)
    assert "odd detail" not in caught.value.reason + caught.value.hint
    assert "Amazon Personalize's error answer said: 'odd detail'" in caplog.messages


def test_wrong_region_is_named_in_the_hint(runtime):
    client, stubber = runtime  # the client is in us-east-1
    other = CAMPAIGN.replace("us-east-1", "eu-west-1")
    stubber.add_client_error("get_recommendations", "ResourceNotFoundException", "", 404)
    with pytest.raises(RecommenderUnavailable) as caught:
        PersonalizeRecommender(client, campaign_arn=other).recommend("1", 10)
    assert caught.value.hint == (
        f"{NOT_FOUND_HINT} AWS_REGION is us-east-1 but the ARN names eu-west-1."
    )


class _FailingClient:
    """Stands in for a client whose transport fails before any response (Stubber can't)."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.meta = type("Meta", (), {"region_name": "us-east-1"})()

    def get_recommendations(self, **_request):
        raise self.error


NETWORK_HINT = (
    "Check the network connection (and any proxy) and AWS_REGION (the ARN names us-east-1)."
)
ODD_ANSWER = (
    "Amazon Personalize sent an answer that could not be read.",
    "Something between the app and AWS (a proxy or a firewall) may have answered instead: "
    "check the network and any HTTPS_PROXY setting, then try again.",
)


@pytest.mark.parametrize(
    ("error", "reason", "hint"),
    [
        (NoCredentialsError(), "No AWS credentials were found.",
         "Configure credentials (aws configure, AWS_PROFILE or an instance role), or unset "
         "PERSONALIZE_CAMPAIGN_ARN to use the embedded recommender."),
        (NoRegionError(), "No AWS region is configured.",
         "Set AWS_REGION to the campaign's region."),
        (EndpointConnectionError(endpoint_url="https://example.invalid"),
         "Amazon Personalize in region us-east-1 could not be reached.", NETWORK_HINT),
        (ConnectTimeoutError(endpoint_url="https://example.invalid"),
         "Amazon Personalize in region us-east-1 could not be reached.", NETWORK_HINT),
        (ReadTimeoutError(endpoint_url="https://example.invalid"),
         "Amazon Personalize in region us-east-1 did not answer within 2 s.", NETWORK_HINT),
        (ConnectionClosedError(endpoint_url="https://example.invalid"),
         "Amazon Personalize in region us-east-1 closed the connection without answering.",
         NETWORK_HINT),
        (ResponseParserError("bad body"), *ODD_ANSWER),
        (AttributeError("'list' object has no attribute 'get'"), *ODD_ANSWER),
    ],
)
def test_transport_failures_become_unavailable(error, reason, hint):
    backend = PersonalizeRecommender(_FailingClient(error), campaign_arn=CAMPAIGN)
    with pytest.raises(RecommenderUnavailable) as caught:
        backend.recommend("1", 10)
    assert (caught.value.reason, caught.value.hint) == (reason, hint)


def test_any_other_failure_sends_the_reader_to_the_log_which_names_its_type(caplog):
    backend = PersonalizeRecommender(_FailingClient(BotoCoreError()), campaign_arn=CAMPAIGN)
    with pytest.raises(RecommenderUnavailable) as caught:
        backend.recommend("1", 10)
    assert (caught.value.reason, caught.value.hint) == (
        "The call to Amazon Personalize failed.", "See the app's log for the error type."
    )
    assert "Amazon Personalize call failed: BotoCoreError" in caplog.messages


def test_runtime_client_is_made_for_the_given_region():
    # Its retries and timeouts are pinned in test_personalize_faults.py.
    assert make_runtime_client("eu-west-1").meta.region_name == "eu-west-1"


def test_health_makes_no_call(runtime):
    client, _stubber = runtime
    health = PersonalizeRecommender(client, campaign_arn=CAMPAIGN).health()
    assert health == {"backend": "personalize", "arn": CAMPAIGN, "region": "us-east-1"}


# --- PutEvents -----------------------------------------------------------------------------------


@pytest.fixture
def events():
    with stubbed("personalize-events") as client_and_stubber:
        yield client_and_stubber


def test_a_rating_is_sent_as_a_rating_event(events):
    client, stubber = events
    stubber.add_response(
        "put_events",
        {},
        {
            "trackingId": "tracking-123",
            "sessionId": "session-1",
            "userId": "42",
            "eventList": [
                {
                    "eventType": "rating",
                    "eventValue": 4.0,
                    "itemId": "Heat (1995)",
                    "sentAt": datetime(2024, 1, 1, tzinfo=timezone.utc),
                }
            ],
        },
    )
    new_year = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp())
    EventSender(client, "tracking-123").send_rating("session-1", "42", "Heat (1995)", 4, new_year)


def test_a_rejected_event_becomes_unavailable(events):
    client, stubber = events
    stubber.add_client_error("put_events", "InvalidInputException", "bad tracking id", 400)
    with pytest.raises(RecommenderUnavailable, match="rejected"):
        EventSender(client, "tracking-123").send_rating("s", "42", "1", 3, 1_700_000_000)
