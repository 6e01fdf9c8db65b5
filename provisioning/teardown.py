"""`personalize status` and `teardown`: find what deploy made, list it, delete it in order."""

from __future__ import annotations

from dataclasses import dataclass, field

from provisioning.bucket_and_role import BucketAndRoleSteps
from provisioning.errors import TEARDOWN_COMMAND, ProvisionError, aws_error_message
from provisioning.resources import (
    ACTIVE,
    CAMPAIGN,
    DATASET,
    DATASET_GROUP,
    EVENT_TRACKER,
    FILTER,
    IMPORT_JOB,
    IN_PROGRESS,
    SCHEMA,
    SOLUTION,
    SOLUTION_VERSION,
    Resource,
    ResourceNames,
    StatusLine,
    format_elapsed,
)


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


class TeardownSteps(BucketAndRoleSteps):
    """The inventory under a prefix (for status and teardown), and deleting it."""

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
                    raise ProvisionError(
                        f"{resource.title} is still in use after {format_elapsed(waited)}: "
                        f"{aws_error_message(error)}") from None
                if not announced:
                    self.echo(f"  {resource.title}: in use ({aws_error_message(error)}); retrying")
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
