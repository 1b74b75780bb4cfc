"""Configuration: what every layer above may know about its surroundings, and nothing else.

Settings from the environment, the clock, Prefect's process defaults and the names that several
layers must agree on (flows, the deployment, dedupe keys). It sits just above `lifecycle/` and
imports no other pilotgate package but that one.
"""
