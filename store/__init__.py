"""The register: pilots, gates, sign-offs, decisions, metrics, the outbox and the audit log.

The database is the source of truth for everything a person has decided. Flows and the Slack
listener read and write it through `store.repo`; nothing else issues queries.
"""
