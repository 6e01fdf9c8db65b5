"""Personalize resources: their names and kinds, and finding, creating and waiting for them.

`ResourceSteps` holds the injected boto3 clients, `sleep` and clock, and the generic steps every
part of the provisioner builds on; bucket_and_role, deploy, teardown and metrics extend it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import click

from provisioning.errors import TEARDOWN_COMMAND, ProvisionError

ACTIVE = "ACTIVE"
IN_PROGRESS = ("CREATE PENDING", "CREATE IN_PROGRESS")
FAILED = ("CREATE FAILED", "CREATE STOPPED")


# --- Names -------------------------------------------------------------------------------


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


# --- Kinds and resources ---------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """A Personalize resource type: `api` names its describe_/delete_ calls."""

    api: str
    label: str
    poll_seconds: float = 10.0
    timeout_seconds: float = 30 * 60
    has_status: bool = True
    retried_by_deploy: bool = False  # a failed one is replaced by a new one on re-run
    command: str = "deploy"  # the command whose re-run retries it or keeps waiting for it

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


def newest(resources: list[Resource]) -> Resource:
    return max(resources, key=lambda r: r.created_at.timestamp() if r.created_at else 0.0)


# --- Progress lines --------------------------------------------------------------------


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


# --- Clients and the generic steps ------------------------------------------------------


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


class ResourceSteps:
    """The injected clients, and the steps shared by deploy, status, teardown and metrics."""

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
            retry = (f"fix the cause and run {resource.kind.command} again; it starts a new one"
                     if resource.kind.retried_by_deploy
                     else f"fix the cause, run {TEARDOWN_COMMAND}, then deploy again")
            return f"{resource.title} {status}: {reason}\nTo retry: {retry}."
        if status.startswith("DELETE"):
            return f"{resource.title} is being deleted ({status}); let teardown finish first."
        return (f"Gave up waiting for {resource.title} after {format_elapsed(elapsed)}; it is "
                f"still {status}. Nothing is lost: run {resource.kind.command} again to keep "
                "waiting.")

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
        latest = newest(resources)
        if latest.status in FAILED:
            self.echo(f"  {what} ended {latest.status}; a new one replaces it")
            return None
        return latest
