"""Prefect tasks: the steps of a transition (open a gate, ask for sign-offs, read the decisions,
enforce the deadline, apply the transition, terminate). Each takes one pydantic input so fields
can be added without breaking callers, and each does its database work in one transaction."""
