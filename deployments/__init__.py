"""Prefect deployments for running pilotgate at scale (`python -m deployments.deploy`)."""
