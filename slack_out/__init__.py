"""Slack's outgoing side: what pilotgate says, queued in the outbox in the caller's transaction
and rendered from templates (`messages`, `home`; most when queued, a close, a tally refresh and
a Home when the relay sends them), and the relay that delivers the queued rows with slack_sdk
(`relay`, `client`). Nothing here reads a click; that is `slack_in`.
"""
