"""The provisioner: every step of deploy, status, teardown, metrics and batch in one object."""

from __future__ import annotations

from provisioning.batch import BatchSteps
from provisioning.deploy import DeploySteps
from provisioning.teardown import TeardownSteps


class Provisioner(DeploySteps, TeardownSteps, BatchSteps):
    """The deploy, status, teardown, metrics and batch logic, over injected boto3 clients.

    (BatchSteps extends MetricsSteps, whose lookup of the trained version it uses.)
    """
