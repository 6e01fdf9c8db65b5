"""The provisioner: every step of deploy, status, teardown and metrics in one object."""

from __future__ import annotations

from provisioning.deploy import DeploySteps
from provisioning.metrics import MetricsSteps
from provisioning.teardown import TeardownSteps


class Provisioner(DeploySteps, TeardownSteps, MetricsSteps):
    """The deploy, status, teardown and metrics logic, over injected boto3 clients."""
