"""The `flask --app app personalize deploy|status|teardown|metrics|batch` commands.

They reach AWS through `ProvisioningHooks` (clients, sleep, clock), which tests replace by
putting their own in `app.extensions[EXTENSION_KEY]`.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from flask import current_app
from flask.cli import AppGroup

from batch import DEFAULT_COUNT, read_users_file, write_records
from commands import ratings_file
from metrics_cache import save_personalize_metrics
from personalize import MAX_NUM_RESULTS
from provisioning.deploy import DEFAULT_PREFIX, DEFAULT_RECIPE, RECIPES, DeployOptions
from provisioning.envfile import ENV_REGION, forget_env_values, update_env_file
from provisioning.errors import TEARDOWN_COMMAND, ProvisionError, aws_error_message
from provisioning.metrics import embedded_metrics, format_metrics
from provisioning.provisioner import Provisioner
from provisioning.resources import AwsClients, boto3_clients

_PREFIX_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,28}[a-z0-9])?$")
EXTENSION_KEY = "personalize_provisioning"


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
def _reported_errors(command: str = "deploy") -> Iterator[None]:
    """Turn AWS and provisioning errors into a message and exit status 1, no traceback.

    `command` is the one whose re-run resumes what was interrupted.
    """
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
                                   f"{aws_error_message(error)}") from None
    except BotoCoreError as error:
        raise click.ClickException(f"Could not reach AWS: {error}") from None
    except KeyboardInterrupt:
        raise click.ClickException(f"Interrupted. What was created is kept: run {command} again "
                                   f"to resume, or {TEARDOWN_COMMAND} to remove it.") from None


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
        ratings=ratings_file(ratings),
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
    save_personalize_metrics(current_app.instance_path, version_arn, metrics)  # for /compare
    ratings_path = str(ratings_file(ratings))
    click.echo(f"Solution version {version_arn}; evaluating the embedded engine on "
               f"{ratings_path} with the same protocol…")
    try:
        embedded = embedded_metrics(ratings_path)
    except Exception as error:  # the comparison columns are optional; never hide Personalize's
        click.echo(f"(embedded engine's figures unavailable: {error})")
        embedded = None
    click.echo(format_metrics(metrics, embedded))
    if embedded is None:
        click.echo("(no embedded figures: recommender.evaluation is not available)")


@personalize_cli.command("batch")
@click.option("--users", "users_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='User IDs: one per line, or Personalize\'s {"userId": "…"} lines.')
# The batch API documents no maximum; GetRecommendations' is the one Personalize states.
@click.option("--n", "count", type=click.IntRange(1, MAX_NUM_RESULTS), default=DEFAULT_COUNT,
              show_default=True, help="Recommendations per user.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="JSON-lines file to write (replaced when the job is done); default stdout.")
@_prefix_option
@_region_option
def batch_command(users_file: Path, count: int, out: Path | None, prefix: str,
                  region: str | None) -> None:
    """Run a batch inference job for a users file and merge its output (re-run to resume)."""
    try:
        entries = read_users_file(users_file)
    except OSError as error:
        raise click.ClickException(f"{users_file}: {error.strerror or error}") from None
    with _reported_errors("batch"):
        records = _provisioner(region).batch(prefix, entries, count)
    try:
        tally = write_records(records, out, sys.stdout)
    except OSError as error:
        raise click.ClickException(f"{out}: {error.strerror or error}") from None
    click.echo(tally.summary(out), err=out is None)  # stdout may be the recommendations
