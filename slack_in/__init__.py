"""Slack's incoming side: the slack-bolt App that verifies, acks and records approvers' answers,
and the HTTP / Socket Mode servers that carry it.

One small module per listener (`approve`, `reject_button`, `reject_submit`), each wired by its
`register(app, deps)`; `decide` is the path they share (screen once, record, queue the replies
and the follow-up), `app` builds the App. Nothing here calls Slack on the ack path except
`views.open` for the reject modal. (Not named `slack`: slack_sdk installs a package by that
name.)
"""
