"""Slack's outgoing side: what pilotgate says, rendered from templates and queued in the outbox
in the caller's transaction (`messages`), and the relay that delivers the queued rows with
slack_sdk (`relay`, `client`). Nothing here reads a click; that is `slack_in`.
"""
