"""What the README tells a user, checked against the code: numbers, limits and orders.

Each test reads the figure from the README's own sentence, so changing either side alone fails.
"""

from __future__ import annotations

import importlib
import inspect
import re
from datetime import timedelta
from pathlib import Path

import pytest
from provision_support import REGION, CallRecorder, Cli, Cloud, expect_full_deploy

import config
import inputs
import omdb
from provisioning.deploy import IAM_PROPAGATION_DELAY, IAM_PROPAGATION_RETRIES
from provisioning.resources import CAMPAIGN, DATASET_GROUP, IMPORT_JOB, SOLUTION_VERSION

pytest_plugins = ["provision_fixtures"]

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def readme_sentence(start: str) -> str:
    """The README's sentence that begins with `start`, on one line."""
    pattern = r"\s+".join(re.escape(word) for word in start.split())
    match = re.search(pattern + r".*?\.(?=\s)", README, re.DOTALL)
    assert match, f"the README no longer says {start!r}"
    return " ".join(match.group(0).split())


# --- Deploy -----------------------------------------------------------------------------------

# The first call that creates each row of the README's "What deploy creates" table.
TABLE_ROW_OF_CALL = {
    "s3:CreateBucket": "S3 bucket", "s3:PutObject": "S3 objects", "iam:CreateRole": "IAM role",
    "personalize:CreateSchema": "schemas", "personalize:CreateDatasetGroup": "dataset group",
    "personalize:CreateDataset": "datasets", "personalize:CreateDatasetImportJob": "import jobs",
    "personalize:CreateSolution": "solution",
    "personalize:CreateSolutionVersion": "solution version",
    "personalize:CreateCampaign": "campaign",
    "personalize:CreateEventTracker": "with `--event-tracker`",
}


def creation_table_rows() -> list[str]:
    section = README[README.index("### What `deploy` creates"):]
    table = section[section.index("| resource |"):]
    table = table[:table.index("\n\n")]
    return [line.split("|")[1].strip() for line in table.splitlines()[2:]]


def test_the_deploy_table_lists_resources_in_the_order_deploy_creates_them(
        cli: Cli, cloud: Cloud, recorder: CallRecorder, ratings: Path, items: Path) -> None:
    expect_full_deploy(cloud.personalize)

    with recorder.recording():
        result = cli("deploy", "--ratings", str(ratings), "--items", str(items), "--with-sims",
                     "--event-tracker", "--region", REGION)

    assert result.exit_code == 0, result.output
    created: list[str] = []
    for service, operation, _params in recorder.calls:
        row = TABLE_ROW_OF_CALL.get(f"{service}:{operation}")
        if row and row not in created:
            created.append(row)
    # --with-sims adds its solution, version and campaign beside the main ones.
    assert [row for row in creation_table_rows() if row != "with `--with-sims`"] == created


def hours(amount: str, unit: str) -> float:
    words = {"one": 1, "a": 1, "an": 1}
    number = float(words.get(amount, amount) if amount in words else amount)
    return number * {"minutes": 1 / 60, "hour": 1, "hours": 1}[unit]


def test_the_step_time_limits_are_the_ones_the_readme_states() -> None:
    sentence = readme_sentence("Steps give up after a time limit:")
    stated = {what: hours(amount, unit) for amount, unit, what in re.findall(
        r"(\d+|one|an?) (minutes|hours?),? for (most|a campaign|training|an import)", sentence)}

    assert stated == {"most": 0.5, "a campaign": 1, "training": 3, "an import": 4}, sentence
    assert DATASET_GROUP.timeout_seconds / 3600 == stated["most"]
    assert CAMPAIGN.timeout_seconds / 3600 == stated["a campaign"]
    assert SOLUTION_VERSION.timeout_seconds / 3600 == stated["training"]
    assert IMPORT_JOB.timeout_seconds / 3600 == stated["an import"]


def test_the_iam_propagation_retries_are_the_ones_the_readme_states() -> None:
    sentence = readme_sentence("The first import request is retried every")
    delay, attempts = re.search(r"every (\d+) s, up to (\d+) attempts", sentence).groups()

    assert IAM_PROPAGATION_DELAY == float(delay)
    assert IAM_PROPAGATION_RETRIES == int(attempts)


# --- Settings and input limits -----------------------------------------------------------------


def stated_results_range() -> tuple[int, int]:
    row = next(line for line in README.splitlines() if line.startswith("| `NUM_RESULTS` |"))
    low, high = re.search(r"\((\d+)–(\d+)\)", row).groups()
    return int(low), int(high)


def test_num_results_accepts_exactly_the_documented_range() -> None:
    low, high = stated_results_range()
    environ = {"NUM_RESULTS": str(high)}

    assert config.from_environment(environ)["NUM_RESULTS"] == high
    for outside in (low - 1, high + 1, 1000):
        with pytest.raises(config.ConfigError, match="NUM_RESULTS"):
            config.from_environment({"NUM_RESULTS": str(outside)})


def test_the_results_maximum_is_the_same_on_every_page_and_the_api(client) -> None:
    low, high = stated_results_range()
    assert f"how many movies ({low}–{high}, default 10)" in README
    assert f"`n` is {low}–{high} (default `NUM_RESULTS`)" in README
    assert inputs.MAX_RESULTS == high

    assert client.get(f"/api/recommendations?user_id=1&n={high}").status_code == 200
    assert client.get(f"/api/recommendations?user_id=1&n={high + 1}").status_code == 400
    assert client.get(f"/recommendations?user_id=1&n={high + 1}").status_code == 400


def stated_id_limit() -> int:
    sentence = readme_sentence("A user ID is any text")
    return int(re.search(r"up to Personalize's (\d+) characters", sentence).group(1))


def test_a_user_id_may_be_as_long_as_the_readme_says_and_no_longer(client) -> None:
    limit = stated_id_limit()
    assert inputs.MAX_ID_LENGTH == limit

    assert client.get("/api/recommendations", query_string={"user_id": "u" * limit}) \
        .status_code == 200
    too_long = client.get("/api/recommendations", query_string={"user_id": "u" * (limit + 1)})
    assert too_long.status_code == 400


@pytest.mark.parametrize("user_id", ["a b", "a/b", "Zoë 東京", "1"])
def test_the_user_ids_the_readme_calls_valid_are_accepted(client, user_id: str) -> None:
    assert client.get("/api/recommendations", query_string={"user_id": user_id}) \
        .status_code == 200


@pytest.mark.parametrize("user_id", ["a\tb", "a\nb", "\x00", "\ud800"])
def test_the_user_ids_the_readme_says_are_refused_get_a_400(client, user_id: str) -> None:
    response = client.post("/api/ratings", json={"user_id": user_id, "item_id": "h1",
                                                 "rating": 4})
    assert response.status_code == 400
    assert "user ID" in response.get_json()["detail"]


def test_omdb_answers_are_cached_as_long_as_the_readme_says() -> None:
    days = int(re.search(r"are cached for (\d+) days", " ".join(README.split())).group(1))
    assert omdb.CACHE_EXPIRY == timedelta(days=days)


# --- Evaluation baselines ---------------------------------------------------------------------


def test_tunes_implicit_defaults_baseline_is_implicits_defaults_unweighted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from implicit.cpu.als import AlternatingLeastSquares

    bench = Path(__file__).resolve().parent.parent / "bench"
    monkeypatch.syspath_prepend(str(bench))
    tune = importlib.import_module("tune")
    library = inspect.signature(AlternatingLeastSquares).parameters
    baseline = tune.BASELINES["als"]["implicit defaults"]

    assert ("`implicit`'s defaults (100 factors, regularization 0.01, alpha 1) on unweighted "
            "interactions") in " ".join(README.split())
    assert (baseline.factors, baseline.regularization, baseline.alpha, baseline.iterations) == (
        library["factors"].default, library["regularization"].default,
        library["alpha"].default, library["iterations"].default) == (100, 0.01, 1.0, 15)
    assert baseline.rating_weight == baseline.recency_half_life == baseline.sequence_weight == 0
    weighted = tune.BASELINES["als"]["reg .01 alpha 1, weighted"]
    assert (weighted.factors, weighted.regularization, weighted.alpha) == (64, 0.01, 1.0)
    assert weighted.rating_weight > 0 and weighted.recency_half_life > 0
