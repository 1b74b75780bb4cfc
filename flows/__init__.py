"""Prefect flows: one per lifecycle stage, plus resolve-gate, terminate and the sweep.

A stage flow does the stage's work and ends in its gate: it opens the gate and asks the
approvers, then returns. Nobody's process waits for people: the decisions land in the database
through the Slack listener, and the decision that settles a gate queues `resolve-gate`, which
applies the outcome and starts the next stage's flow.
"""
