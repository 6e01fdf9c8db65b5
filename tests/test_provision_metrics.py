"""`flask personalize metrics`: the trained solution's figures beside the embedded engine's."""

from __future__ import annotations

import sys
import types

import pytest
from provision_support import (
    GROUP_ARN,
    PREFIX,
    SOLUTION_ARN,
    T1,
    VERSION_ARN,
    Cli,
    Cloud,
    Personalize,
    summary,
)

pytest_plugins = ["provision_fixtures"]


# --- metrics ----------------------------------------------------------------------------


def expect_metrics(p: Personalize) -> None:
    p.lists("list_dataset_groups", "datasetGroups",
            [summary("dataset_group", GROUP_ARN, name=PREFIX)])
    p.lists("list_solutions", "solutions",
            [summary("solution", SOLUTION_ARN, name=f"{PREFIX}-personalized")],
            datasetGroupArn=GROUP_ARN)
    older = f"{SOLUTION_ARN}/0000"
    p.lists("list_solution_versions", "solutionVersions", [
        summary("solution_version", older),
        summary("solution_version", VERSION_ARN, when=T1),
        summary("solution_version", f"{SOLUTION_ARN}/ffff", "CREATE FAILED", when=T1)],
        solutionArn=SOLUTION_ARN)
    p.call("get_solution_metrics", {"solutionVersionArn": VERSION_ARN},
           {"solutionVersionArn": VERSION_ARN,
            "metrics": {"coverage": 0.2512, "precision_at_10": 0.0831}})


def test_metrics_prints_the_deployed_versions_figures(
        cli: Cli, cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "evaluate", None)  # no embedded figures to compare
    expect_metrics(cloud.personalize)

    result = cli("metrics")

    assert result.exit_code == 0, result.output
    cloud.stubber.assert_no_pending_responses()
    lines = [line.split() for line in result.output.splitlines()]
    assert ["coverage", "0.2512"] in lines
    assert ["precision_at_10", "0.0831"] in lines
    assert ["normalized_discounted_cumulative_gain_at_25", "—"] in lines
    assert "evaluate.evaluate_embedded is not available" in result.output


def test_metrics_sit_beside_the_embedded_engines(
        cli: Cli, cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def evaluate_embedded(ratings_path: str) -> dict[str, dict[str, dict[str, float]]]:
        seen.append(ratings_path)
        return {"user-personalization": {"coverage": {"mean": 0.4, "std": 0.01},
                                         "training_seconds": {"mean": 1.5, "std": 0.1}},
                "popularity-count": {"coverage": {"mean": 0.01, "std": 0.0},
                                     "precision_at_10": {"mean": 0.05, "std": 0.0}}}

    monkeypatch.setitem(sys.modules, "evaluate",
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
