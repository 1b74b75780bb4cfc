"""The register: pilots, gates, sign-offs, decisions, metrics, the outbox and the audit log.

The database is the source of truth for everything a person has decided. Every query pilotgate
makes lives in this package, one module per aggregate:

- `pilots`: proposals and pilots, stage history, the portfolio cap;
- `gates`: gates, sign-off requests, decisions, reminders;
- `metrics`: metric observations;
- `outbox`: Slack calls waiting to be sent;
- `flow_queue`: flow runs waiting to be started;
- `audit`: the hash-chained audit log;
- `read_models`: the narrow shapes hot screens read (no writes);
- `read_report`: the portfolio report's whole-register scans (no writes);
- `read_pages`: what the web pages read (no writes);
- `read_home`: what the App Home, `/pilotgate` and reminders read (no writes).

Functions take a Session (the caller owns the transaction) and `now` (time is an input).
`models` holds the tables, `db` the engines, `migrate` the Alembic entry points.
"""
