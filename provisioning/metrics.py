"""`personalize metrics`: the trained solution's offline metrics, beside the embedded engine's."""

from __future__ import annotations

from collections.abc import Mapping

from provisioning.errors import ProvisionError
from provisioning.resources import (
    ACTIVE,
    DATASET_GROUP,
    SOLUTION,
    SOLUTION_VERSION,
    Resource,
    ResourceNames,
    ResourceSteps,
    newest,
)
from recommender.metrics import OFFLINE_METRICS, metrics_table


class MetricsSteps(ResourceSteps):
    """Reading the deployed solution's figures."""

    def solution_metrics(self, prefix: str) -> tuple[str, dict[str, float]]:
        """Offline metrics of the newest ACTIVE version of the deployed solution."""
        latest = self.trained_version(self.names(prefix))
        response = self.personalize.get_solution_metrics(solutionVersionArn=latest.arn)
        return latest.arn, response["metrics"]

    def trained_version(self, names: ResourceNames) -> Resource:
        """The newest ACTIVE version of the solution deploy trained."""
        group = self._find(DATASET_GROUP, "list_dataset_groups", "datasetGroups",
                           names.dataset_group)
        name = names.solution("personalized")
        solution = group and self._find(SOLUTION, "list_solutions", "solutions", name,
                                        datasetGroupArn=group.arn)
        versions = self._list(SOLUTION_VERSION, "list_solution_versions", "solutionVersions",
                              name_key=None, solutionArn=solution.arn) if solution else []
        trained = [v for v in versions if v.status == ACTIVE]
        if not trained:
            raise ProvisionError(f"No trained version of solution {name} in {self.region}; "
                                 "run `flask --app app personalize deploy` first.")
        return newest(trained)


def embedded_metrics(ratings_path: str) -> dict[str, dict[str, float]] | None:
    """{embedded recipe: {metric: mean over seeds}}, when recommender.evaluation is there."""
    try:
        from recommender.evaluation import evaluate_embedded  # optional and heavy: only here
    except ImportError:
        return None
    results = evaluate_embedded(ratings_path)  # {recipe: {figure: {"mean", "std"}}}
    return {recipe: {name: spread["mean"] for name, spread in figures.items()}
            for recipe, figures in results.items()}


def format_metrics(personalize: Mapping[str, float],
                   embedded: Mapping[str, Mapping[str, float]] | None = None) -> str:
    """A table: one row per metric, Personalize's column, then one per embedded recipe."""
    names = [*OFFLINE_METRICS, *sorted(set(personalize) - set(OFFLINE_METRICS))]
    return metrics_table({"Personalize": personalize, **(embedded or {})}, names)
