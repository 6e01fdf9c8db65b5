"""Set up and remove Amazon Personalize for this app: `flask --app app personalize …`.

`deploy` runs the workshop's steps (S3 bucket, IAM role, schemas, dataset group, datasets, import
jobs, solutions, solution versions, campaigns). Every resource is found by name before it is
created, so re-running an interrupted deploy resumes where it stopped. `teardown` deletes in
dependency order. The boto3 clients, `sleep` and the clock are injected: tests run offline.

The modules, each importing only those above it:

- `errors`: `ProvisionError`, and reading the message of an AWS error.
- `upload`: the CSVs deploy uploads, in Personalize's shape, with their Avro schemas.
- `resources`: resource names and kinds, progress lines, the clients, and `ResourceSteps`,
  the generic find / create / wait-until-active steps the others build on.
- `bucket_and_role`: the S3 bucket and the IAM role Personalize reads it with, and their
  policies.
- `envfile`: writing the campaign ARNs into .env, and removing them after teardown.
- `deploy`: `DeploySteps`, from the uploaded files to the campaigns.
- `teardown`: `Inventory` (what `status` lists) and `TeardownSteps`.
- `metrics`: the trained solution's offline metrics, beside the embedded engine's.
- `batch`: a batch inference job for a users file, its input uploaded and its output merged.
- `provisioner`: `Provisioner`, every step in one object.
- `cli`: the `personalize` click group and its commands.
"""

from provisioning.cli import personalize_cli

__all__ = ["personalize_cli"]
