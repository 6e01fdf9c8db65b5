"""`flask personalize metrics`: the trained solution's figures beside the embedded engine's."""

from __future__ import annotations

import sys
import types

import pytest
from provision_support import (
    PREFIX,
    Cli,
    Cloud,
    expect_metrics,
)

from metrics_cache import read_personalize_metrics

pytest_plugins = ["provision_fixtures"]


# --- metrics ----------------------------------------------------------------------------



def test_metrics_prints_the_deployed_versions_figures(
        cli: Cli, cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "recommender.evaluation", None)  # no embedded figures
    expect_metrics(cloud.personalize)

    result = cli("metrics")

    assert result.exit_code == 0, result.output
    cloud.stubber.assert_no_pending_responses()
    lines = [line.split() for line in result.output.splitlines()]
    assert ["coverage", "0.2512"] in lines
    assert ["precision_at_10", "0.0831"] in lines
    assert ["normalized_discounted_cumulative_gain_at_25", "—"] in lines
    assert "recommender.evaluation is not available" in result.output
    # Kept for the compare page, which shows them without calling AWS.
    cached = read_personalize_metrics(cli.app.instance_path)
    assert cached["metrics"] == {"coverage": 0.2512, "precision_at_10": 0.0831}


def test_metrics_sit_beside_the_embedded_engines(
        cli: Cli, cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def evaluate_embedded(ratings_path: str) -> dict[str, dict[str, dict[str, float]]]:
        seen.append(ratings_path)
        return {"user-personalization": {"coverage": {"mean": 0.4, "std": 0.01},
                                         "training_seconds": {"mean": 1.5, "std": 0.1}},
                "popularity-count": {"coverage": {"mean": 0.01, "std": 0.0},
                                     "precision_at_10": {"mean": 0.05, "std": 0.0}}}

    monkeypatch.setitem(sys.modules, "recommender.evaluation",
                        types.SimpleNamespace(evaluate_embedded=evaluate_embedded))
    expect_metrics(cloud.personalize)

    result = cli("metrics", "--ratings", "data/ratings.csv")

    assert result.exit_code == 0, result.output
    assert seen == ["data/ratings.csv"]
    lines = [line.split() for line in result.output.splitlines()]
    assert ["metric", "Personalize", "user-personalization", "popularity-count"] in lines
    assert ["coverage", "0.2512", "0.4000", "0.0100"] in lines
    assert ["precision_at_10", "0.0831", "—", "0.0500"] in lines
    assert "training_seconds" not in result.output  # a timing, not one of Personalize's metrics


def test_metrics_without_a_trained_version(cli: Cli, cloud: Cloud) -> None:
    cloud.personalize.lists("list_dataset_groups", "datasetGroups", [])

    result = cli("metrics")

    assert result.exit_code == 1
    assert f"No trained version of solution {PREFIX}-personalized" in result.output
