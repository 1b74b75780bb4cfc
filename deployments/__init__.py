"""Prefect deployments for running pilotgate at scale: `prefect.yaml` declares every flow's
deployment (`prefect deploy --all --prefect-file deployments/prefect.yaml`); `automation`
adds what YAML cannot say."""
