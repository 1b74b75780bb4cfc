"""Slack at the edges: outgoing messages through the outbox and its relay, incoming clicks
through the bolt listener. (Not named `slack`: slack_sdk already installs a package by that
name.)"""
