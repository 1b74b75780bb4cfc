"""Pure lifecycle rules for pilotgate.

Everything here is plain Python and pydantic: no Prefect, Slack, SQLAlchemy or jinja2. The
edges (flows, tasks, store, slackbot) call into these rules so the rules can be tested, and
reasoned about, without any infrastructure.
"""
