"""slackemu: a local Slack Web API emulator for testing pilotgate without Slack.

pilotgate's production code uses the real slack_sdk ``WebClient`` and a real
slack-bolt listener; this package stands in for Slack on loopback so that code
runs unchanged (only ``base_url`` differs) in tests, CI and demos.  See
:class:`SlackEmulator`.
"""

from .blocks import BlocksInvalid, validate_blocks
from .emulator import SlackEmulator
from .errors import ClientValidationError, EmulatorError, NotFoundError
from .records import CallRecord, InteractionRecord, MessageRecord, MessageVersion, ViewRecord
from .signing import sign

__all__ = [
    "BlocksInvalid",
    "CallRecord",
    "ClientValidationError",
    "EmulatorError",
    "InteractionRecord",
    "MessageRecord",
    "MessageVersion",
    "NotFoundError",
    "SlackEmulator",
    "ViewRecord",
    "sign",
    "validate_blocks",
]
