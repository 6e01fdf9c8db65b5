"""`personalize deploy`: the workshop's steps, from the uploaded files to the campaigns.

Every resource is found by name before it is created, so re-running an interrupted deploy
resumes where it stopped.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from provisioning.bucket_and_role import BucketAndRoleSteps
from provisioning.envfile import ENV_CAMPAIGN, ENV_REGION, ENV_SIMS_CAMPAIGN, ENV_TRACKING_ID
from provisioning.errors import TEARDOWN_COMMAND, ProvisionError, aws_error_message
from provisioning.resources import (
    ACTIVE,
    CAMPAIGN,
    DATASET,
    DATASET_GROUP,
    EVENT_TRACKER,
    IMPORT_JOB,
    SCHEMA,
    SOLUTION,
    SOLUTION_VERSION,
    Resource,
    ResourceNames,
)
from provisioning.upload import PreparedFile, prepare_interactions, prepare_items

DEFAULT_PREFIX = "movie-recs"
DEFAULT_RECIPE = "user-personalization-v2"
# Recipes whose campaigns answer GetRecommendations for a user, which is what the app calls
# (Trending-Now needs no userId, and answers everyone with the same list).
RECIPES = {
    "user-personalization-v2": "arn:aws:personalize:::recipe/aws-user-personalization-v2",
    "user-personalization": "arn:aws:personalize:::recipe/aws-user-personalization",
    "popularity-count": "arn:aws:personalize:::recipe/aws-popularity-count",
    "trending-now": "arn:aws:personalize:::recipe/aws-trending-now",
}
SIMS_RECIPE = "arn:aws:personalize:::recipe/aws-sims"
# solutionConfig per recipe. Trending-Now compares each item's interactions over successive
# intervals of `trend_discovery_frequency` (30 minutes, 1 hour, 3 hours or 1 day; 2 hours when
# unset). A ratings file holds a few ratings a day, so the longest interval.
SOLUTION_CONFIGS: dict[str, dict[str, Any]] = {
    RECIPES["trending-now"]: {
        "featureTransformationParameters": {"trend_discovery_frequency": "1 day"}},
}
MIN_PROVISIONED_TPS = 1

# A new role can take a while to be usable by Personalize; retry instead of sleeping blindly.
IAM_PROPAGATION_RETRIES = 6
IAM_PROPAGATION_DELAY = 10.0
_PROPAGATION_WORDS = re.compile(r"role|assume|access|permission|privilege", re.IGNORECASE)


@dataclass
class DeployOptions:
    ratings: Path
    prefix: str = DEFAULT_PREFIX
    items: Path | None = None
    recipe: str = DEFAULT_RECIPE
    with_sims: bool = False
    min_rating: float | None = None
    event_tracker: bool = False


@dataclass
class Deployment:
    region: str
    campaign_arn: str
    sims_campaign_arn: str | None = None
    tracking_id: str | None = None

    def env_values(self) -> dict[str, str]:
        values = {ENV_CAMPAIGN: self.campaign_arn, ENV_REGION: self.region}
        if self.sims_campaign_arn:
            values[ENV_SIMS_CAMPAIGN] = self.sims_campaign_arn
        if self.tracking_id:
            values[ENV_TRACKING_ID] = self.tracking_id
        return values


class DeploySteps(BucketAndRoleSteps):
    """Each step of deploy; every `ensure_*` reuses what exists and creates what is missing."""

    def deploy(self, options: DeployOptions) -> Deployment | None:
        """Create what is missing, wait for it, and return the ARNs (None on a dry run)."""
        with tempfile.TemporaryDirectory(prefix="personalize-") as workdir:
            data = self.prepare_data(options, Path(workdir))  # refuses bad files before any call
            names = self.names(options.prefix)
            mode = "Plan (dry run: nothing is created or changed)" if self.dry_run else "Deploying"
            self.echo(f"{mode} for {names.prefix!r} in {names.region}, account {names.account}:")
            bucket_ready = self.ensure_bucket(names)
            for dataset_type, prepared in data.items():
                self.upload(names, dataset_type, prepared, bucket_ready)
        role_arn = self.ensure_role(names)
        group = self.import_data(names, data, role_arn)
        campaigns = self.train_and_serve(names, group, options)
        tracking_id = self.ensure_event_tracker(names, group) if options.event_tracker else None
        self.echo(self.cost_warning(names))
        if self.dry_run:
            return None
        deployment = Deployment(names.region, campaigns["personalized"].arn,
                                campaigns["sims"].arn if "sims" in campaigns else None,
                                tracking_id)
        for purpose, campaign in campaigns.items():
            self.echo(f"Campaign ({purpose}): {campaign.arn}")
        return deployment

    def import_data(self, names: ResourceNames, data: dict[str, PreparedFile],
                    role_arn: str | None) -> Resource | None:
        """Dataset group, schemas, datasets and import jobs; returns the dataset group."""
        group = self.settle(self.ensure_dataset_group(names))
        datasets = {dataset_type: self.ensure_dataset(names, group, dataset_type, prepared.schema)
                    for dataset_type, prepared in data.items()}
        # Both imports run at once; then each is waited for.
        self.settle_all([self.start_import(names, datasets[dataset_type], dataset_type, role_arn)
                         for dataset_type in data])
        return group

    def train_and_serve(self, names: ResourceNames, group: Resource | None,
                        options: DeployOptions) -> dict[str, Resource]:
        """Solutions, solution versions (training, in parallel) and campaigns, by purpose."""
        recipes = {"personalized": RECIPES[options.recipe]}
        if options.with_sims:
            recipes["sims"] = SIMS_RECIPE
        solutions = {purpose: self.settle(self.ensure_solution(names, group, purpose, recipe))
                     for purpose, recipe in recipes.items()}
        versions = self.settle_all([self.start_solution_version(names, purpose, solutions[purpose])
                                    for purpose in recipes])
        campaigns = self.settle_all([
            self.ensure_campaign(names, purpose, solutions[purpose], version)
            for purpose, version in zip(recipes, versions, strict=True)])
        return {purpose: campaign for purpose, campaign in zip(recipes, campaigns, strict=True)
                if campaign is not None}

    def prepare_data(self, options: DeployOptions, workdir: Path) -> dict[str, PreparedFile]:
        if not options.ratings.is_file():
            raise ProvisionError(f"{options.ratings} not found; pass --ratings PATH or create it "
                                 "with `flask --app app data import-movielens DIR`.")
        data = {"interactions": prepare_interactions(
            options.ratings, workdir / "interactions.csv", options.min_rating)}
        kept = f" (--min-rating {options.min_rating:g})" if options.min_rating is not None else ""
        self.echo(f"{options.ratings}: valid; {data['interactions'].rows:,} interactions "
                  f"to upload{kept}.")
        if options.items is not None:
            data["items"] = prepare_items(options.items, workdir / "items.csv")
        return data

    def cost_warning(self, names: ResourceNames) -> str:
        verb = "will bill" if self.dry_run else "bill"
        return (f"Cost: campaigns {verb} every hour for their minimum TPS "
                f"({MIN_PROVISIONED_TPS}), even when idle, until deleted; training is billed per "
                "training hour (automatic retraining is off). Remove everything with:\n"
                f"  {TEARDOWN_COMMAND} --name {names.prefix} --region {names.region}")

    def ensure_schema(self, names: ResourceNames, dataset_type: str,
                      schema: dict[str, Any]) -> Resource | None:
        name = names.schema(dataset_type)

        def create() -> str:
            return self.personalize.create_schema(name=name, schema=json.dumps(schema))["schemaArn"]

        return self._ensure(SCHEMA, name, self._find(SCHEMA, "list_schemas", "schemas", name),
                            create)

    def ensure_dataset_group(self, names: ResourceNames) -> Resource | None:
        name = names.dataset_group

        def create() -> str:
            return self.personalize.create_dataset_group(name=name)["datasetGroupArn"]

        found = self._find(DATASET_GROUP, "list_dataset_groups", "datasetGroups", name)
        return self._ensure(DATASET_GROUP, name, found, create)

    def ensure_dataset(self, names: ResourceNames, group: Resource | None, dataset_type: str,
                       schema: dict[str, Any]) -> Resource | None:
        """The dataset (and its schema), waited for until ACTIVE."""
        schema_resource = self.settle(self.ensure_schema(names, dataset_type, schema))
        name = names.dataset(dataset_type)

        def create() -> str:
            return self.personalize.create_dataset(
                name=name, schemaArn=schema_resource.arn, datasetGroupArn=group.arn,
                datasetType=dataset_type.title())["datasetArn"]

        found = group and self._find(DATASET, "list_datasets", "datasets", name,
                                     datasetGroupArn=group.arn)
        return self.settle(self._ensure(DATASET, name, found, create))

    def start_import(self, names: ResourceNames, dataset: Resource | None, dataset_type: str,
                     role_arn: str | None) -> Resource | None:
        """Reuse the dataset's latest import unless it failed; else start a FULL import."""
        jobs = self._list(IMPORT_JOB, "list_dataset_import_jobs", "datasetImportJobs",
                          name_key="jobName", datasetArn=dataset.arn) if dataset else []
        reusable = self._latest_unfailed(jobs, f"the last import of {dataset_type}")
        name = names.import_job(dataset_type, len(jobs) + 1)

        def create() -> str:
            return self._create_import_job(name, dataset.arn, names.s3_uri(dataset_type), role_arn)

        return self._ensure(IMPORT_JOB, name, reusable, create)

    def _create_import_job(self, name: str, dataset_arn: str, uri: str, role_arn: str) -> str:
        """Start the import, retrying while a new IAM role is not yet usable by Personalize."""
        attempt = 1
        while True:
            try:
                return self.personalize.create_dataset_import_job(
                    jobName=name, datasetArn=dataset_arn, dataSource={"dataLocation": uri},
                    roleArn=role_arn, importMode="FULL")["datasetImportJobArn"]
            except ClientError as error:
                if attempt >= IAM_PROPAGATION_RETRIES or not _looks_like_propagation(error):
                    raise
            self.echo(f"  import job {name}: the new IAM role is not usable yet; retrying in "
                      f"{IAM_PROPAGATION_DELAY:g}s ({attempt}/{IAM_PROPAGATION_RETRIES - 1})")
            self.sleep(IAM_PROPAGATION_DELAY)
            attempt += 1

    def ensure_solution(self, names: ResourceNames, group: Resource | None, purpose: str,
                        recipe_arn: str) -> Resource | None:
        name = names.solution(purpose)

        def create() -> str:
            config = SOLUTION_CONFIGS.get(recipe_arn)
            # performAutoTraining defaults to True: a new version every 7 days, billed each time.
            return self.personalize.create_solution(
                name=name, datasetGroupArn=group.arn, recipeArn=recipe_arn,
                performAutoTraining=False, **({"solutionConfig": config} if config else {})
            )["solutionArn"]

        summaries = (self._summaries("list_solutions", "solutions", datasetGroupArn=group.arn)
                     if group else [])
        match = next((item for item in summaries if item["name"] == name), None)
        if match is None:
            return self._ensure(SOLUTION, name, None, create)
        if match.get("recipeArn", recipe_arn) != recipe_arn:
            raise ProvisionError(
                f"solution {name} exists with recipe {match['recipeArn']}, not {recipe_arn}. "
                f"Run {TEARDOWN_COMMAND} first, or deploy under another --name.")
        return Resource(SOLUTION, name, match["solutionArn"], match.get("status", ACTIVE))

    def start_solution_version(self, names: ResourceNames, purpose: str,
                               solution: Resource | None) -> Resource | None:
        """Reuse the solution's latest version unless it failed; else train a new one."""
        solution_name = names.solution(purpose)

        def create() -> str:
            return self.personalize.create_solution_version(
                solutionArn=solution.arn, trainingMode="FULL")["solutionVersionArn"]

        versions = self._list(SOLUTION_VERSION, "list_solution_versions", "solutionVersions",
                              name_key=None, solutionArn=solution.arn) if solution else []
        reusable = self._latest_unfailed(versions, f"the last training of {solution_name}")
        return self._ensure(SOLUTION_VERSION, f"of {solution_name}", reusable, create)

    def ensure_campaign(self, names: ResourceNames, purpose: str, solution: Resource | None,
                        version: Resource | None) -> Resource | None:
        name = names.campaign(purpose)

        def create() -> str:
            return self.personalize.create_campaign(
                name=name, solutionVersionArn=version.arn,
                minProvisionedTPS=MIN_PROVISIONED_TPS)["campaignArn"]

        found = solution and self._find(CAMPAIGN, "list_campaigns", "campaigns", name,
                                        solutionArn=solution.arn)
        return self._ensure(CAMPAIGN, name, found, create)

    def ensure_event_tracker(self, names: ResourceNames, group: Resource | None) -> str | None:
        """The dataset group's event tracker (only one is allowed); its tracking ID."""
        trackers = self._list(EVENT_TRACKER, "list_event_trackers", "eventTrackers",
                              datasetGroupArn=group.arn) if group else []
        found = trackers[0] if trackers else None
        name = found.name if found else names.event_tracker

        def create() -> str:
            return self.personalize.create_event_tracker(
                name=name, datasetGroupArn=group.arn)["eventTrackerArn"]

        tracker = self._ensure(EVENT_TRACKER, name, found, create)
        if tracker is None or self.dry_run:
            self.settle(tracker)
            return None
        return self.wait_until_active(tracker, describe_active=True)["trackingId"]


def _looks_like_propagation(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    return code in ("InvalidInputException", "AccessDeniedException") and bool(
        _PROPAGATION_WORDS.search(aws_error_message(error)))
