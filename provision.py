"""Set up and remove Amazon Personalize for this app: `flask --app app personalize …`.

`deploy` runs the workshop's steps (S3 bucket, IAM role, schemas, dataset group, datasets, import
jobs, solutions, solution versions, campaigns). Every resource is found by name before it is
created, so re-running an interrupted deploy resumes where it stopped. `teardown` deletes in
dependency order. The boto3 clients, `sleep` and the clock are injected: tests run offline.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import click
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from dotenv import dotenv_values
from flask import current_app
from flask.cli import AppGroup

from catalog import (
    MIN_ACTIVE_USERS,
    MIN_INTERACTIONS,
    DataFileError,
    ValidationReport,
    file_fingerprint,
    read_items,
    validate_interactions,
)

DEFAULT_PREFIX = "movie-recs"
DEFAULT_RECIPE = "user-personalization-v2"
# Recipes whose campaigns answer GetRecommendations with a userId, which is what the app calls.
RECIPES = {
    "user-personalization-v2": "arn:aws:personalize:::recipe/aws-user-personalization-v2",
    "user-personalization": "arn:aws:personalize:::recipe/aws-user-personalization",
    "popularity-count": "arn:aws:personalize:::recipe/aws-popularity-count",
    "trending-now": "arn:aws:personalize:::recipe/aws-trending-now",
}
SIMS_RECIPE = "arn:aws:personalize:::recipe/aws-sims"
MIN_PROVISIONED_TPS = 1
TEARDOWN_COMMAND = "flask --app app personalize teardown"

# The keys deploy owns in .env; every other line of the file is left as it is.
ENV_CAMPAIGN = "PERSONALIZE_CAMPAIGN_ARN"
ENV_SIMS_CAMPAIGN = "PERSONALIZE_SIMS_CAMPAIGN_ARN"
ENV_REGION = "AWS_REGION"
ENV_TRACKING_ID = "PERSONALIZE_TRACKING_ID"

# The uploaded interactions CSV; the Avro schema lists the same fields in the same order.
INTERACTION_COLUMNS = ("USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP")
RATING_EVENT_TYPE = "rating"
METRIC_NAMES = (
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
)

ACTIVE = "ACTIVE"
IN_PROGRESS = ("CREATE PENDING", "CREATE IN_PROGRESS")
FAILED = ("CREATE FAILED", "CREATE STOPPED")
# A new role can take a while to be usable by Personalize; retry instead of sleeping blindly.
IAM_PROPAGATION_RETRIES = 6
IAM_PROPAGATION_DELAY = 10.0
_PROPAGATION_WORDS = re.compile(r"role|assume|access|permission|privilege", re.IGNORECASE)
_PREFIX_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,28}[a-z0-9])?$")
EXTENSION_KEY = "personalize_provisioning"


class ProvisionError(Exception):
    """A step that cannot go on; the message says what happened and what to do."""


# --- Preparing the files Personalize imports ---------------------------------------------


def interactions_schema() -> dict[str, Any]:
    """The Avro schema of the uploaded interactions CSV (RATING becomes EVENT_VALUE)."""
    types = {"USER_ID": "string", "ITEM_ID": "string", "EVENT_TYPE": "string",
             "EVENT_VALUE": ["null", "float"], "TIMESTAMP": "long"}
    return _avro_record("Interactions", [{"name": name, "type": types[name]}
                                         for name in INTERACTION_COLUMNS])


def items_schema(columns: Iterable[str]) -> dict[str, Any]:
    """The Avro schema of the uploaded items CSV: ITEM_ID plus GENRES and/or YEAR."""
    known = {"GENRES": {"name": "GENRES", "type": ["null", "string"], "categorical": True},
             "YEAR": {"name": "YEAR", "type": ["null", "int"]}}
    return _avro_record("Items", [{"name": "ITEM_ID", "type": "string"}]
                        + [known[name] for name in columns])


def _avro_record(name: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "com.amazonaws.personalize.schema",
            "fields": fields, "version": "1.0"}


@dataclass(frozen=True)
class PreparedFile:
    """A CSV written in the shape Personalize imports, with the schema that describes it."""

    path: Path
    schema: dict[str, Any]
    rows: int
    digest: str  # SHA-256 of the bytes, stored on the S3 object to skip identical uploads


def describe_problems(report: ValidationReport) -> str:
    lines = [f"{report.path} would fail the Personalize import; fix it and deploy again:"]
    lines += [f"  {problem}" for problem in report.problems]
    if report.unlisted_problems:
        lines.append(f"  … and {report.unlisted_problems} more")
    return "\n".join(lines)


def prepare_interactions(
    source: str | Path, dest: Path, min_rating: float | None = None
) -> PreparedFile:
    """Validate the ratings file, then write USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP."""
    report = validate_interactions(source)
    if not report.ok:
        raise ProvisionError(describe_problems(report))
    rows, per_user = _write_interactions(Path(source), dest, min_rating)
    active_users = sum(1 for count in per_user.values() if count >= 2)
    if min_rating is not None and (rows < MIN_INTERACTIONS or active_users < MIN_ACTIVE_USERS):
        raise ProvisionError(
            f"with --min-rating {min_rating:g} only {rows:,} interactions "
            f"({active_users} users with two or more) remain; Personalize needs at least "
            f"{MIN_INTERACTIONS:,} from {MIN_ACTIVE_USERS} such users. Lower --min-rating."
        )
    return PreparedFile(dest, interactions_schema(), rows, file_fingerprint(dest))


def _write_interactions(
    source: Path, dest: Path, min_rating: float | None
) -> tuple[int, dict[str, int]]:
    """Copy the validated rows into the upload shape; return the row count and rows per user."""
    per_user: dict[str, int] = {}
    rows = 0
    with open(source, newline="", encoding="utf-8") as src, \
            open(dest, "w", newline="", encoding="utf-8") as out:
        reader = csv.reader(src)
        columns = {name.strip().upper(): position for position, name in enumerate(next(reader))}
        user, item, stamp = columns["USER_ID"], columns["ITEM_ID"], columns["TIMESTAMP"]
        value = columns.get("RATING", columns.get("EVENT_VALUE"))
        event_type = columns.get("EVENT_TYPE")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(INTERACTION_COLUMNS)
        for row in reader:
            if not row:
                continue
            rating = row[value].strip() if value is not None else ""
            if min_rating is not None and (not rating or float(rating) < min_rating):
                continue
            kind = row[event_type].strip() if event_type is not None else RATING_EVENT_TYPE
            writer.writerow([row[user], row[item], kind, rating, row[stamp].strip()])
            per_user[row[user]] = per_user.get(row[user], 0) + 1
            rows += 1
    return rows, per_user


def prepare_items(source: str | Path, dest: Path) -> PreparedFile:
    """Write ITEM_ID with GENRES (categorical) and YEAR; TITLE is left out (see the README)."""
    try:
        movies = read_items(source)
    except DataFileError as error:
        raise ProvisionError(str(error)) from None
    columns = [name for name, used in (("GENRES", any(movie.genres for movie in movies)),
                                       ("YEAR", any(movie.year is not None for movie in movies)))
               if used]
    if not columns:
        raise ProvisionError(f"{source} has neither GENRES nor YEAR values; an Items dataset "
                             "needs at least one of them. Deploy without --items.")
    with open(dest, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["ITEM_ID", *columns])
        for movie in movies:
            cells = {"GENRES": "|".join(movie.genres),
                     "YEAR": "" if movie.year is None else str(movie.year)}
            writer.writerow([movie.item_id, *(cells[name] for name in columns)])
    return PreparedFile(dest, items_schema(columns), len(movies), file_fingerprint(dest))


# --- Names and policies -----------------------------------------------------------------


@dataclass(frozen=True)
class ResourceNames:
    """Every resource's name, derived from the prefix, so a re-run finds the same ones."""

    prefix: str
    account: str
    region: str
    partition: str = "aws"

    @property
    def bucket(self) -> str:
        return f"{self.prefix}-{self.account}-{self.region}"

    @property
    def role(self) -> str:
        return f"{self.prefix}-personalize-{self.region}"

    @property
    def dataset_group(self) -> str:
        return self.prefix

    @property
    def event_tracker(self) -> str:
        return f"{self.prefix}-events"

    def schema(self, dataset_type: str) -> str:
        return f"{self.prefix}-{dataset_type}"

    def dataset(self, dataset_type: str) -> str:
        return f"{self.prefix}-{dataset_type}"

    def import_job(self, dataset_type: str, attempt: int) -> str:
        return f"{self.prefix}-{dataset_type}-import-{attempt}"

    def solution(self, purpose: str) -> str:
        return f"{self.prefix}-{purpose}"

    def campaign(self, purpose: str) -> str:
        return f"{self.prefix}-{purpose}"

    def s3_key(self, dataset_type: str) -> str:
        return f"{dataset_type}.csv"

    def s3_uri(self, dataset_type: str) -> str:
        return f"s3://{self.bucket}/{self.s3_key(dataset_type)}"


def _bucket_arns(bucket: str, partition: str) -> list[str]:
    return [f"arn:{partition}:s3:::{bucket}", f"arn:{partition}:s3:::{bucket}/*"]


def bucket_policy(bucket: str, partition: str = "aws") -> dict[str, Any]:
    """Lets the Personalize service read the bucket (and nothing else)."""
    return {"Version": "2012-10-17", "Id": "PersonalizeS3BucketAccessPolicy", "Statement": [{
        "Sid": "PersonalizeS3BucketAccessPolicy", "Effect": "Allow",
        "Principal": {"Service": "personalize.amazonaws.com"},
        "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": _bucket_arns(bucket, partition),
    }]}


def role_trust_policy(account: str, region: str, partition: str = "aws") -> dict[str, Any]:
    """Only Personalize, acting for this account in this region, may assume the role."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": ["personalize.amazonaws.com"]},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": f"arn:{partition}:personalize:{region}:{account}:*"},
        },
    }]}


def bucket_read_policy(bucket: str, partition: str = "aws") -> dict[str, Any]:
    """The role's only permission: read this one bucket."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": _bucket_arns(bucket, partition),
    }]}


READ_POLICY_NAME = "read-training-bucket"


# --- Personalize resource kinds, progress lines -----------------------------------------


@dataclass(frozen=True)
class Kind:
    """A Personalize resource type: `api` names its describe_/delete_ calls."""

    api: str
    label: str
    poll_seconds: float = 10.0
    timeout_seconds: float = 30 * 60
    has_status: bool = True
    retried_by_deploy: bool = False  # a failed one is replaced by a new one on re-run

    @property
    def key(self) -> str:
        """The response key and parameter stem: dataset_group -> datasetGroup."""
        head, *rest = self.api.split("_")
        return head + "".join(word.title() for word in rest)

    @property
    def arn_param(self) -> str:
        return f"{self.key}Arn"


SCHEMA = Kind("schema", "schema", has_status=False)
DATASET_GROUP = Kind("dataset_group", "dataset group")
DATASET = Kind("dataset", "dataset")
IMPORT_JOB = Kind("dataset_import_job", "import job", 30, 4 * 3600, retried_by_deploy=True)
SOLUTION = Kind("solution", "solution")
SOLUTION_VERSION = Kind("solution_version", "solution version", 60, 3 * 3600,
                        retried_by_deploy=True)
CAMPAIGN = Kind("campaign", "campaign", 30, 3600)
EVENT_TRACKER = Kind("event_tracker", "event tracker")
FILTER = Kind("filter", "filter")


@dataclass
class Resource:
    kind: Kind
    name: str
    arn: str
    status: str = ACTIVE
    created: bool = False  # made by this run
    created_at: datetime | None = None  # from list_*, to pick the newest job or version
    requested_at: float | None = None  # clock() when this run asked for it; elapsed counts from it

    @property
    def title(self) -> str:
        return f"{self.kind.label} {self.name}"


def format_elapsed(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


class StatusLine:
    """One progress line per step: rewritten in place on a terminal, else one per status."""

    def __init__(self, echo: Callable[..., None], live: bool, label: str) -> None:
        self._echo, self._live, self._label = echo, live, label
        self._shown = 0
        self._status: str | None = None

    def update(self, status: str, elapsed: float | None = None) -> None:
        text = f"{self._label}: {status}"
        if elapsed is not None:
            text += f", {format_elapsed(elapsed)}"
        if self._live:
            self._echo("\r" + text.ljust(self._shown), nl=False)
            self._shown = len(text)
        elif status != self._status:
            self._echo(text)
        self._status = status

    def close(self) -> None:
        if self._live and self._shown:
            self._echo("")


# --- The provisioner --------------------------------------------------------------------


@dataclass(frozen=True)
class AwsClients:
    s3: Any
    iam: Any
    sts: Any
    personalize: Any


def boto3_clients(region: str | None) -> AwsClients:
    """Clients from the caller's profile and credentials, as boto3 resolves them."""
    session = boto3.session.Session(region_name=region)
    if not session.region_name:
        raise ProvisionError("No AWS region: pass --region, set AWS_REGION, or give your "
                             "profile a region (aws configure).")
    return AwsClients(*(session.client(name) for name in ("s3", "iam", "sts", "personalize")))


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


@dataclass
class Inventory:
    """What exists under one prefix, for status and teardown."""

    names: ResourceNames
    bucket_exists: bool = False
    role_exists: bool = False
    dataset_group: Resource | None = None
    campaigns: list[Resource] = field(default_factory=list)
    solution_versions: list[Resource] = field(default_factory=list)
    solutions: list[Resource] = field(default_factory=list)
    event_trackers: list[Resource] = field(default_factory=list)
    filters: list[Resource] = field(default_factory=list)
    datasets: list[Resource] = field(default_factory=list)
    import_jobs: list[Resource] = field(default_factory=list)
    schemas: list[Resource] = field(default_factory=list)

    def personalize_resources(self) -> list[Resource]:
        """In the order they are created, for listing."""
        group = [self.dataset_group] if self.dataset_group else []
        return [*self.schemas, *group, *self.datasets, *self.import_jobs, *self.event_trackers,
                *self.filters, *self.solutions, *self.solution_versions, *self.campaigns]

    def is_empty(self, keep_bucket: bool = False) -> bool:
        bucket = self.bucket_exists and not keep_bucket
        return not (bucket or self.role_exists or self.personalize_resources())


def billing_note(resource: Resource) -> str:
    """Why a resource costs money right now, or "" when it does not."""
    if resource.kind is CAMPAIGN and (resource.status == ACTIVE
                                      or resource.status.startswith("UPDATE")):
        return "billing: its minimum TPS every hour, even when idle"
    if resource.kind is SOLUTION_VERSION and resource.status in IN_PROGRESS:
        return "billing: training hours"
    return ""


class Provisioner:
    """The deploy, status, teardown and metrics logic, over injected boto3 clients."""

    def __init__(
        self,
        clients: AwsClients,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        echo: Callable[..., None] = click.echo,
        live: bool = False,
        dry_run: bool = False,
    ) -> None:
        self.s3, self.iam, self.sts = clients.s3, clients.iam, clients.sts
        self.personalize = clients.personalize
        self.region: str = clients.personalize.meta.region_name
        self.sleep, self.clock, self.echo = sleep, clock, echo
        self.live, self.dry_run = live, dry_run

    def names(self, prefix: str) -> ResourceNames:
        identity = self.sts.get_caller_identity()
        partition = identity["Arn"].split(":")[1]  # aws, aws-cn or aws-us-gov
        return ResourceNames(prefix, identity["Account"], self.region, partition)

    # --- deploy ---

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

    def ensure_bucket(self, names: ResourceNames) -> bool:
        """Make sure the bucket exists, private and readable by Personalize.

        Returns whether it exists (False only on a dry run that would create it).
        """
        if self._bucket_exists(names):
            self.echo(f"  S3 bucket {names.bucket}: exists")
        elif self.dry_run:
            self.echo(f"  S3 bucket {names.bucket}: will be created (private)")
            return False
        else:
            # us-east-1 is the one region S3 rejects as a LocationConstraint.
            location = ({} if names.region == "us-east-1"
                        else {"CreateBucketConfiguration": {"LocationConstraint": names.region}})
            self.s3.create_bucket(Bucket=names.bucket, **location)
            self.echo(f"  S3 bucket {names.bucket}: created")
        if not self.dry_run:
            # Re-applied on every run: an interruption right after create_bucket must not leave
            # the bucket without them.
            self.s3.put_public_access_block(Bucket=names.bucket, PublicAccessBlockConfiguration={
                "BlockPublicAcls": True, "IgnorePublicAcls": True,
                "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
            policy = bucket_policy(names.bucket, names.partition)
            self.s3.put_bucket_policy(Bucket=names.bucket, Policy=json.dumps(policy))
        return True

    def _bucket_exists(self, names: ResourceNames) -> bool:
        try:
            self.s3.head_bucket(Bucket=names.bucket, ExpectedBucketOwner=names.account)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code in ("404", "NoSuchBucket"):
                return False
            if code in ("403", "AccessDenied"):
                raise ProvisionError(
                    f"The bucket name {names.bucket} is owned by another account (or you may "
                    "not read it); choose another --name.") from None
            raise
        return True

    def upload(self, names: ResourceNames, dataset_type: str, prepared: PreparedFile,
               bucket_exists: bool) -> None:
        """Upload the prepared CSV unless the same bytes are already there."""
        uri, key = names.s3_uri(dataset_type), names.s3_key(dataset_type)
        current = self._uploaded_digest(names.bucket, key) if bucket_exists else None
        if current == prepared.digest:
            self.echo(f"  {uri}: up to date ({prepared.rows:,} rows)")
            return
        if current is not None:
            self.echo(f"  {uri}: the file changed since the last upload. Deploy keeps what is "
                      f"already imported and trained; to train on the new data, run "
                      f"{TEARDOWN_COMMAND} and deploy again.")
        if self.dry_run:
            self.echo(f"  {uri}: will be uploaded ({prepared.rows:,} rows)")
            return
        self.s3.upload_file(str(prepared.path), names.bucket, key, ExtraArgs={
            "ContentType": "text/csv", "Metadata": {"sha256": prepared.digest}})
        self.echo(f"  {uri}: uploaded ({prepared.rows:,} rows)")

    def _uploaded_digest(self, bucket: str, key: str) -> str | None:
        try:
            return self.s3.head_object(Bucket=bucket, Key=key)["Metadata"].get("sha256", "")
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey"):
                return None
            raise

    def ensure_role(self, names: ResourceNames) -> str | None:
        """The role Personalize assumes to read the bucket; its ARN (None on a dry run)."""
        try:
            arn = self.iam.get_role(RoleName=names.role)["Role"]["Arn"]
            self.echo(f"  IAM role {names.role}: exists")
        except self.iam.exceptions.NoSuchEntityException:
            if self.dry_run:
                self.echo(f"  IAM role {names.role}: will be created (reads {names.bucket} only)")
                return None
            trust = role_trust_policy(names.account, names.region, names.partition)
            arn = self.iam.create_role(
                RoleName=names.role, AssumeRolePolicyDocument=json.dumps(trust),
                Description=f"Lets Amazon Personalize read s3://{names.bucket}",
            )["Role"]["Arn"]
            self.echo(f"  IAM role {names.role}: created")
        if not self.dry_run:
            self.iam.put_role_policy(
                RoleName=names.role, PolicyName=READ_POLICY_NAME,
                PolicyDocument=json.dumps(bucket_read_policy(names.bucket, names.partition)))
        return arn

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
            # performAutoTraining defaults to True: a new version every 7 days, billed each time.
            return self.personalize.create_solution(
                name=name, datasetGroupArn=group.arn, recipeArn=recipe_arn,
                performAutoTraining=False)["solutionArn"]

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

    # --- generic steps ---

    def _ensure(self, kind: Kind, name: str, found: Resource | None,
                create: Callable[[], str]) -> Resource | None:
        """Reuse what was found, else create it (or, on a dry run, say it would be created)."""
        if found:
            return found
        if self.dry_run:
            self.echo(f"  {kind.label} {name}: will be created")
            return None
        status = "CREATE PENDING" if kind.has_status else ACTIVE
        requested_at = self.clock()
        return Resource(kind, name, create(), status=status, created=True,
                        requested_at=requested_at)

    def settle(self, resource: Resource | None) -> Resource | None:
        """Wait until the resource is ACTIVE; on a dry run only say how it stands."""
        if resource is None:
            return None
        if self.dry_run:
            state = f", {resource.status}" if resource.kind.has_status else ""
            self.echo(f"  {resource.title}: exists{state}")
        elif not resource.kind.has_status:
            self.echo(f"  {resource.title}: {'created' if resource.created else 'exists'}")
        else:
            self.wait_until_active(resource)
        return resource

    def settle_all(self, resources: list[Resource | None]) -> list[Resource | None]:
        """Wait for several resources that were started together (they run in parallel)."""
        return [self.settle(resource) for resource in resources]

    def wait_until_active(self, resource: Resource, describe_active: bool = False
                          ) -> dict[str, Any]:
        """Poll describe_* until ACTIVE; raise on CREATE FAILED, deletion or timeout."""
        kind = resource.kind
        origin = "created" if resource.created else "exists"
        line = StatusLine(self.echo, self.live, f"  {resource.title} ({origin})")
        if resource.status == ACTIVE and not describe_active:
            line.update(ACTIVE)
            return {}
        started = self.clock() if resource.requested_at is None else resource.requested_at
        while True:
            described = self._describe(resource)
            status, elapsed = described["status"], self.clock() - started
            line.update(status, elapsed)
            if status == ACTIVE:
                line.close()
                return described
            if status in FAILED or status.startswith("DELETE") or elapsed >= kind.timeout_seconds:
                line.close()
                raise ProvisionError(self._stuck_message(resource, described, elapsed))
            self.sleep(kind.poll_seconds)

    def _stuck_message(self, resource: Resource, described: dict[str, Any], elapsed: float) -> str:
        status = described["status"]
        if status in FAILED:
            reason = described.get("failureReason") or "no reason given"
            retry = ("fix the cause and run deploy again; it starts a new one"
                     if resource.kind.retried_by_deploy
                     else f"fix the cause, run {TEARDOWN_COMMAND}, then deploy again")
            return f"{resource.title} {status}: {reason}\nTo retry: {retry}."
        if status.startswith("DELETE"):
            return f"{resource.title} is being deleted ({status}); let teardown finish first."
        return (f"Gave up waiting for {resource.title} after {format_elapsed(elapsed)}; it is "
                f"still {status}. Nothing is lost: run deploy again to keep waiting.")

    def _describe(self, resource: Resource) -> dict[str, Any]:
        call = getattr(self.personalize, f"describe_{resource.kind.api}")
        return call(**{resource.kind.arn_param: resource.arn})[resource.kind.key]

    def _summaries(self, method: str, key: str, **params: str) -> list[dict[str, Any]]:
        paginator = self.personalize.get_paginator(method)
        return [item for page in paginator.paginate(**params) for item in page[key]]

    def _list(self, kind: Kind, method: str, key: str, name_key: str | None = "name",
              **params: str) -> list[Resource]:
        """Every resource a list_* call returns; unnamed ones are called by their ARN's tail."""
        resources = []
        for item in self._summaries(method, key, **params):
            arn = item[kind.arn_param]
            name = item[name_key] if name_key else arn.rsplit("/", 1)[-1]
            resources.append(Resource(kind, name, arn, item.get("status", ACTIVE),
                                      created_at=item.get("creationDateTime")))
        return resources

    def _find(self, kind: Kind, method: str, key: str, name: str, **params: str
              ) -> Resource | None:
        return next((r for r in self._list(kind, method, key, **params) if r.name == name), None)

    def _latest_unfailed(self, resources: list[Resource], what: str) -> Resource | None:
        """The newest of a job-like resource unless it failed (then deploy starts a new one)."""
        if not resources:
            return None
        latest = _newest(resources)
        if latest.status in FAILED:
            self.echo(f"  {what} ended {latest.status}; a new one replaces it")
            return None
        return latest

    # --- inventory, status ---

    def inventory(self, prefix: str, include_import_jobs: bool = False) -> Inventory:
        """Find everything deploy would have made under this prefix (read-only calls)."""
        names = self.names(prefix)
        found = Inventory(names)
        found.dataset_group = self._find(DATASET_GROUP, "list_dataset_groups", "datasetGroups",
                                         names.dataset_group)
        if found.dataset_group:
            self._collect_group(found, found.dataset_group.arn, include_import_jobs)
        wanted = {names.schema("interactions"), names.schema("items")}
        found.schemas = [s for s in self._list(SCHEMA, "list_schemas", "schemas")
                         if s.name in wanted]
        found.role_exists = self._role_exists(names.role)
        found.bucket_exists = self._bucket_exists(names)
        return found

    def _collect_group(self, found: Inventory, group_arn: str, include_import_jobs: bool) -> None:
        found.solutions = self._list(SOLUTION, "list_solutions", "solutions",
                                     datasetGroupArn=group_arn)
        for solution in found.solutions:
            found.solution_versions += self._list(
                SOLUTION_VERSION, "list_solution_versions", "solutionVersions", name_key=None,
                solutionArn=solution.arn)
            found.campaigns += self._list(CAMPAIGN, "list_campaigns", "campaigns",
                                          solutionArn=solution.arn)
        found.event_trackers = self._list(EVENT_TRACKER, "list_event_trackers", "eventTrackers",
                                          datasetGroupArn=group_arn)
        found.filters = self._list(FILTER, "list_filters", "Filters", datasetGroupArn=group_arn)
        found.datasets = self._list(DATASET, "list_datasets", "datasets", datasetGroupArn=group_arn)
        if include_import_jobs:
            for dataset in found.datasets:
                found.import_jobs += self._list(
                    IMPORT_JOB, "list_dataset_import_jobs", "datasetImportJobs",
                    name_key="jobName", datasetArn=dataset.arn)

    def _role_exists(self, role: str) -> bool:
        try:
            self.iam.get_role(RoleName=role)
        except self.iam.exceptions.NoSuchEntityException:
            return False
        return True

    def print_inventory(self, found: Inventory) -> int:
        """List every resource with its status; return how many are billing now."""
        names = found.names
        self.echo(f"Resources named {names.prefix!r} in {names.region} (account {names.account}):")
        if found.is_empty():
            self.echo("  none")
            return 0
        rows = [("S3 bucket", names.bucket, "exists", "")] if found.bucket_exists else []
        if found.role_exists:
            rows.append(("IAM role", names.role, "exists", ""))
        rows += [(r.kind.label, r.name, r.status if r.kind.has_status else "exists",
                  billing_note(r)) for r in found.personalize_resources()]
        for label, name, status, note in rows:
            self.echo(f"  {label:<17} {name:<40} {status:<19} {note}".rstrip())
        billing = sum(1 for row in rows if row[3])
        if billing:
            self.echo(f"{billing} resource(s) billing now. Stop them with: {TEARDOWN_COMMAND} "
                      f"--name {names.prefix} --region {names.region}")
        else:
            self.echo("Nothing is billing by the hour now (S3 storage aside).")
        return billing

    # --- teardown ---

    def teardown(self, found: Inventory, keep_bucket: bool = False) -> list[str]:
        """Delete in dependency order, waiting for each stage; return the deleted ARNs."""
        self._stop_training(found.solution_versions)
        group = [found.dataset_group] if found.dataset_group else []
        deleted: list[str] = []
        for stage in (found.campaigns, found.solutions, found.event_trackers, found.filters,
                      found.datasets, group, found.schemas):
            deleted += self._delete_stage(stage)
        if found.role_exists:
            self._delete_role(found.names.role)
        if found.bucket_exists and not keep_bucket:
            self._delete_bucket(found.names.bucket)
        return deleted

    def _stop_training(self, versions: list[Resource]) -> None:
        """Stop training in progress: a solution cannot be deleted while it trains."""
        for version in versions:
            if version.status not in IN_PROGRESS:
                continue
            try:
                self.personalize.stop_solution_version_creation(solutionVersionArn=version.arn)
            except (self.personalize.exceptions.ResourceInUseException,
                    self.personalize.exceptions.ResourceNotFoundException):
                continue  # it finished or went away meanwhile; the solution delete copes
            self.echo(f"  {version.title}: stopping training (billed until it stops)")
            started = self.clock()
            while self._describe(version)["status"] in (*IN_PROGRESS, "CREATE STOPPING"):
                if self.clock() - started >= version.kind.timeout_seconds:
                    raise ProvisionError(f"{version.title} did not stop; try teardown again.")
                self.sleep(version.kind.poll_seconds)

    def _delete_stage(self, resources: list[Resource]) -> list[str]:
        """Request every delete of one stage, then wait until all are gone."""
        requested = [r for r in resources if self._request_delete(r)]
        for resource in requested:
            if resource.kind.has_status:
                self._wait_gone(resource)
            else:
                self.echo(f"  {resource.title}: deleted")
        return [r.arn for r in resources]

    def _request_delete(self, resource: Resource) -> bool:
        """Ask for the delete, retrying while a dependency is still going; False if gone."""
        if resource.status.startswith("DELETE"):
            return True  # a previous teardown already asked; just wait for it
        errors = self.personalize.exceptions
        started = self.clock()
        announced = False
        while True:
            try:
                getattr(self.personalize, f"delete_{resource.kind.api}")(
                    **{resource.kind.arn_param: resource.arn})
                return True
            except errors.ResourceNotFoundException:
                self.echo(f"  {resource.title}: already gone")
                return False
            except errors.ResourceInUseException as error:
                waited = self.clock() - started
                if waited >= resource.kind.timeout_seconds:
                    raise ProvisionError(f"{resource.title} is still in use after "
                                         f"{format_elapsed(waited)}: {_message(error)}") from None
                if not announced:
                    self.echo(f"  {resource.title}: in use ({_message(error)}); retrying")
                    announced = True
                self.sleep(resource.kind.poll_seconds)

    def _wait_gone(self, resource: Resource) -> None:
        line = StatusLine(self.echo, self.live, f"  {resource.title}")
        started = self.clock()
        while True:
            try:
                status = self._describe(resource)["status"]
            except self.personalize.exceptions.ResourceNotFoundException:
                line.update("deleted", self.clock() - started)
                line.close()
                return
            elapsed = self.clock() - started
            line.update(status, elapsed)
            if elapsed >= resource.kind.timeout_seconds:
                line.close()
                raise ProvisionError(f"{resource.title} is still {status} after "
                                     f"{format_elapsed(elapsed)}; run teardown again later.")
            self.sleep(resource.kind.poll_seconds)

    def _delete_role(self, role: str) -> None:
        iam = self.iam
        try:
            for page in iam.get_paginator("list_role_policies").paginate(RoleName=role):
                for policy in page["PolicyNames"]:
                    iam.delete_role_policy(RoleName=role, PolicyName=policy)
            for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role):
                for policy in page["AttachedPolicies"]:
                    iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])
            iam.delete_role(RoleName=role)
        except iam.exceptions.NoSuchEntityException:
            self.echo(f"  IAM role {role}: already gone")
            return
        self.echo(f"  IAM role {role}: deleted")

    def _delete_bucket(self, bucket: str) -> None:
        """Delete every object version and delete marker, then the bucket."""
        try:
            for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
                keys = [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in entries]
                for start in range(0, len(keys), 1000):  # delete_objects takes 1000 at most
                    result = self.s3.delete_objects(
                        Bucket=bucket, Delete={"Objects": keys[start:start + 1000], "Quiet": True})
                    if result.get("Errors"):
                        first = result["Errors"][0]
                        raise ProvisionError(f"Could not delete s3://{bucket}/{first['Key']}: "
                                             f"{first.get('Message', first.get('Code'))}")
            self.s3.delete_bucket(Bucket=bucket)
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchBucket":
                raise
            self.echo(f"  S3 bucket {bucket}: already gone")
            return
        self.echo(f"  S3 bucket {bucket}: deleted with its objects")

    # --- metrics ---

    def solution_metrics(self, prefix: str) -> tuple[str, dict[str, float]]:
        """Offline metrics of the newest ACTIVE version of the deployed solution."""
        names = self.names(prefix)
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
        latest = _newest(trained)
        response = self.personalize.get_solution_metrics(solutionVersionArn=latest.arn)
        return latest.arn, response["metrics"]


def _newest(resources: list[Resource]) -> Resource:
    return max(resources, key=lambda r: r.created_at.timestamp() if r.created_at else 0.0)


def _looks_like_propagation(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    return code in ("InvalidInputException", "AccessDeniedException") and bool(
        _PROPAGATION_WORDS.search(_message(error)))


def _message(error: ClientError) -> str:
    return error.response["Error"].get("Message", "")


# --- .env -------------------------------------------------------------------------------


# python-dotenv's set_key drops blank lines, so .env is edited line by line here instead.
_ENV_ASSIGNMENT = re.compile(r"^\s*(?P<export>export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_.]*)\s*=")


def update_env_file(path: str | Path, values: Mapping[str, str]) -> None:
    """Set these keys in a .env file, creating it; every other line stays as it was."""
    _rewrite_env(Path(path), values)


def forget_env_values(path: str | Path, deleted: Iterable[str]) -> list[str]:
    """Remove our keys whose value names a deleted resource; return the keys removed."""
    path = Path(path)
    if not path.is_file():
        return []
    gone = set(deleted)
    current = dotenv_values(path)
    removed = [key for key in (ENV_CAMPAIGN, ENV_SIMS_CAMPAIGN) if current.get(key) in gone]
    if removed:
        _rewrite_env(path, dict.fromkeys(removed))
    return removed


def _rewrite_env(path: Path, changes: Mapping[str, str | None]) -> None:
    """Set (or, for None, remove) keys: the first assignment is rewritten in place, repeats
    are dropped (a later one would win), missing keys are appended."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.is_file() else []
    done: set[str] = set()
    output = []
    for line in lines:
        match = _ENV_ASSIGNMENT.match(line)
        key = match["key"] if match else None
        if key not in changes:
            output.append(line)
            continue
        value = changes[key]
        if key not in done and value is not None:
            # ARNs hold no spaces, quotes or '#': unquoted, they stay readable and parse the same.
            output.append(f"{match['export'] or ''}{key}={value}\n")
        done.add(key)
    if output and not output[-1].endswith("\n"):
        output[-1] += "\n"
    output += [f"{key}={value}\n" for key, value in changes.items()
               if value is not None and key not in done]
    _write_atomically(path, "".join(output))


def _write_atomically(path: Path, text: str) -> None:
    """Write through a temporary file so an interruption never leaves half a .env."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=".env-",
                                     delete=False) as handle:
        handle.write(text)
    if path.exists():
        shutil.copymode(path, handle.name)  # a .env holding secrets may be private (0600)
    os.replace(handle.name, path)


# --- The embedded engine's figures, for `metrics` -----------------------------------------


def embedded_metrics(ratings_path: str) -> dict[str, dict[str, float]] | None:
    """{embedded recipe: {metric: mean over seeds}} from evaluate.py, when it is there."""
    try:
        from evaluate import evaluate_embedded  # optional, and heavy: imported only here
    except ImportError:
        return None
    results = evaluate_embedded(ratings_path)  # {recipe: {figure: {"mean", "std"}}}
    return {recipe: {name: spread["mean"] for name, spread in figures.items()}
            for recipe, figures in results.items()}


def format_metrics(personalize: Mapping[str, float],
                   embedded: Mapping[str, Mapping[str, float]] | None = None) -> list[str]:
    """A table: one row per metric, Personalize's column, then one per embedded recipe."""
    columns = {"Personalize": personalize, **(embedded or {})}
    names = [*METRIC_NAMES, *sorted(set(personalize) - set(METRIC_NAMES))]
    width = max(len(name) for name in names)
    widths = [max(12, len(title)) for title in columns]

    def cell(value: float | None, column_width: int) -> str:
        return f"{value:>{column_width}.4f}" if value is not None else f"{'—':>{column_width}}"

    sized = list(zip(columns.items(), widths, strict=True))
    lines = [" ".join([f"{'metric':<{width}}", *(f"{title:>{w}}" for (title, _), w in sized)])]
    for name in names:
        cells = [cell(figures.get(name), w) for (_, figures), w in sized]
        lines.append(" ".join([f"{name:<{width}}", *cells]))
    return lines


# --- CLI --------------------------------------------------------------------------------


@dataclass
class ProvisioningHooks:
    """What the commands use to reach AWS; tests put their own in app.extensions."""

    clients: Callable[[str | None], AwsClients] = boto3_clients
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


personalize_cli = AppGroup(
    "personalize",
    help="Deploy, inspect and tear down the Amazon Personalize resources behind the app.")


def _provisioner(region: str | None, dry_run: bool = False) -> Provisioner:
    hooks: ProvisioningHooks = current_app.extensions.get(EXTENSION_KEY) or ProvisioningHooks()
    # AWS_REGION is what deploy writes to .env (flask loads it); boto3 itself only reads
    # AWS_DEFAULT_REGION and the profile, which still apply when neither is set.
    clients = hooks.clients(region or os.environ.get(ENV_REGION) or None)
    return Provisioner(clients, sleep=hooks.sleep, clock=hooks.clock, echo=click.echo,
                       live=sys.stdout.isatty(), dry_run=dry_run)


@contextmanager
def _reported_errors() -> Iterator[None]:
    """Turn AWS and provisioning errors into a message and exit status 1, no traceback."""
    try:
        yield
    except ProvisionError as error:
        raise click.ClickException(str(error)) from None
    except NoCredentialsError:
        raise click.ClickException("No AWS credentials found: run `aws configure` or set "
                                   "AWS_PROFILE.") from None
    except ClientError as error:
        operation = error.operation_name
        raise click.ClickException(f"AWS refused {operation}: {error.response['Error']['Code']}: "
                                   f"{_message(error)}") from None
    except BotoCoreError as error:
        raise click.ClickException(f"Could not reach AWS: {error}") from None
    except KeyboardInterrupt:
        raise click.ClickException("Interrupted. What was created is kept: run deploy again to "
                                   f"resume, or {TEARDOWN_COMMAND} to remove it.") from None


def _check_prefix(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not _PREFIX_PATTERN.match(value):
        raise click.BadParameter("use 1-30 lower-case letters, digits and inner hyphens; it "
                                 "becomes part of the S3 bucket name")
    return value


def _prefix_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--name", "prefix", metavar="PREFIX", default=DEFAULT_PREFIX,
                        show_default=True, callback=_check_prefix,
                        help="Prefix of every resource name.")(function)


def _region_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--region", help="AWS region (default: AWS_REGION, then your profile's)."
                        )(function)


def _env_file_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path),
                        default=Path(".env"), show_default=True,
                        help="The .env file holding the campaign ARNs.")(function)


@personalize_cli.command("deploy")
@click.option("--ratings", type=click.Path(dir_okay=False, path_type=Path),
              help="Interactions CSV (default: RATINGS_PATH, data/ratings.csv).")
@click.option("--items", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Items CSV; adds an Items dataset (GENRES, YEAR).")
@_prefix_option
@click.option("--recipe", type=click.Choice(sorted(RECIPES)), default=DEFAULT_RECIPE,
              show_default=True, help="Recipe of the main solution.")
@click.option("--with-sims", is_flag=True, help="Also a SIMS solution and campaign.")
@click.option("--min-rating", type=float, help="Upload only ratings at or above this.")
@click.option("--event-tracker", is_flag=True, help="Also an event tracker (PutEvents).")
@_region_option
@_env_file_option
@click.option("--dry-run", is_flag=True, help="Print the plan; create or change nothing.")
def deploy_command(ratings: Path | None, items: Path | None, prefix: str, recipe: str,
                   with_sims: bool, min_rating: float | None, event_tracker: bool,
                   region: str | None, env_file: Path, dry_run: bool) -> None:
    """Create what the app needs (re-run to resume), then write .env."""
    options = DeployOptions(
        ratings=ratings or Path(current_app.config.get("RATINGS_PATH", "data/ratings.csv")),
        prefix=prefix, items=items, recipe=recipe, with_sims=with_sims, min_rating=min_rating,
        event_tracker=event_tracker)
    with _reported_errors():
        deployment = _provisioner(region, dry_run=dry_run).deploy(options)
        if deployment is not None:
            update_env_file(env_file, deployment.env_values())
            click.echo(f"Wrote {', '.join(deployment.env_values())} to {env_file}.")


@personalize_cli.command("status")
@_prefix_option
@_region_option
def status_command(prefix: str, region: str | None) -> None:
    """Show each resource, its status, and what is billing now."""
    with _reported_errors():
        provisioner = _provisioner(region)
        provisioner.print_inventory(provisioner.inventory(prefix, include_import_jobs=True))


@personalize_cli.command("teardown")
@_prefix_option
@_region_option
@click.option("--keep-bucket", is_flag=True, help="Keep the S3 bucket and its data.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_env_file_option
def teardown_command(prefix: str, region: str | None, keep_bucket: bool, yes: bool,
                     env_file: Path) -> None:
    """Delete everything deploy created (safe to re-run)."""
    with _reported_errors():
        provisioner = _provisioner(region)
        found = provisioner.inventory(prefix)
        if found.is_empty(keep_bucket):
            click.echo(f"Nothing named {prefix!r} to delete in {provisioner.region}.")
            return
        provisioner.print_inventory(found)
        if not yes:
            click.confirm("Delete all of these" + (" except the bucket" if keep_bucket else ""),
                          abort=True)
        deleted = provisioner.teardown(found, keep_bucket=keep_bucket)
        removed = forget_env_values(env_file, deleted)
        if removed:
            click.echo(f"Removed {', '.join(removed)} from {env_file}.")
        click.echo("Teardown complete.")


@personalize_cli.command("metrics")
@_prefix_option
@_region_option
@click.option("--ratings", type=click.Path(dir_okay=False, path_type=Path),
              help="Ratings for the embedded engine's figures (default: RATINGS_PATH).")
def metrics_command(prefix: str, region: str | None, ratings: Path | None) -> None:
    """Show the trained solution's offline metrics (and the embedded engine's)."""
    with _reported_errors():
        version_arn, metrics = _provisioner(region).solution_metrics(prefix)
    ratings_path = str(ratings or current_app.config.get("RATINGS_PATH", "data/ratings.csv"))
    click.echo(f"Solution version {version_arn}; evaluating the embedded engine on "
               f"{ratings_path} with the same protocol…")
    try:
        embedded = embedded_metrics(ratings_path)
    except Exception as error:  # the comparison columns are optional; never hide Personalize's
        click.echo(f"(embedded engine's figures unavailable: {error})")
        embedded = None
    for line in format_metrics(metrics, embedded):
        click.echo(line)
    if embedded is None:
        click.echo("(no embedded figures: evaluate.evaluate_embedded is not available)")
