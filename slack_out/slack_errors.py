"""What a Slack Web API error means for the call that met it: one table, every method we call.

A real workspace answers with documented error codes, and what the relay must do differs by
who can fix it: nobody (the message itself is wrong: dead, logged), the recipient's situation
(a deactivated approver, a channel the bot is not in: dead, the owner told), the installation
(a revoked token stops everything; a missing scope, the calls of that method; the Messages tab
switched off, DMs: those rows wait, kept, until an admin fixes it), or time (rate limits,
outages: retry).
Treating an installation-wide error as a message error kills the whole queue in one round;
treating a permanent one as transient retries it for hours. So every documented error of every
method pilotgate calls is classified here, once, from Slack's method pages
(https://api.slack.com/methods/<method>#errors) and the errors every method shares.
An error not in the table (Slack adds codes) is transient with a bounded number of attempts.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ALL_METHODS",
    "DM_KIND",
    "SCOPE_PREFIX",
    "TABLE",
    "TOKEN_KIND",
    "Scope",
    "classify",
    "fix_for",
    "pause_kind",
]


class Scope(StrEnum):
    """Who the error is about, which decides what the relay does with the row."""

    #: this call can never succeed as it is (bad blocks, too long): dead, logged as a bug.
    MESSAGE = "message"
    #: this recipient (user or channel) will not take it: dead, the pilot's owner is told.
    RECIPIENT = "recipient"
    #: what this installation sends (all of it, one method, or DMs; see `pause_kind`) will not
    #: work until an admin acts: hold the rows it covers, keep them.
    INSTALLATION = "installation"
    #: try again later (rate limit, outage, timeout).
    TRANSIENT = "transient"


M, R, INST, T = Scope.MESSAGE, Scope.RECIPIENT, Scope.INSTALLATION, Scope.TRANSIENT

#: The errors every Web API method documents ("Errors" common to all methods).
_COMMON: dict[str, Scope] = {
    # the token and the installation
    "not_authed": INST,
    "invalid_auth": INST,
    "account_inactive": INST,  # the token's own (bot) account, not the recipient
    "token_revoked": INST,
    "token_expired": INST,
    "no_permission": INST,
    "missing_scope": INST,
    "not_allowed_token_type": INST,
    "org_login_required": INST,
    "ekm_access_denied": INST,
    "team_access_not_granted": INST,
    "two_factor_setup_required": INST,
    "access_denied": INST,
    "enterprise_is_restricted": INST,
    "team_added_to_org": T,  # the workspace is migrating into a Grid org; it comes back
    "accesslimited": T,
    "deprecated_endpoint": M,
    "method_deprecated": M,
    "unknown_method": M,
    # the request itself
    "invalid_arguments": M,
    "invalid_arg_name": M,
    "invalid_array_arg": M,
    "invalid_charset": M,
    "invalid_form_data": M,
    "invalid_post_type": M,
    "missing_post_type": M,
    "invalid_json": M,
    "json_not_object": M,
    "request_too_large": M,
    # Slack's side
    "ratelimited": T,
    "rate_limited": T,
    "request_timeout": T,
    "service_unavailable": T,
    "fatal_error": T,
    "internal_error": T,
}

_POSTING: dict[str, Scope] = {
    "channel_not_found": R,
    "not_in_channel": R,
    "is_archived": R,
    "restricted_action": R,
    "restricted_action_read_only_channel": R,
    "restricted_action_thread_only_channel": R,
    "restricted_action_non_threadable_channel": R,
    "restricted_action_thread_locked": R,
    "team_not_found": R,
    "user_disabled": R,
    "user_not_found": R,
    "user_not_visible": R,
    # the app's Messages tab is off: no DM from this app reaches anyone until it is on
    "messages_tab_disabled": INST,
    "as_user_not_supported": M,
    "attachment_payload_limit_exceeded": M,
    "cannot_reply_to_message": M,
    "duplicate_channel_not_found": M,
    "duplicate_message_not_found": M,
    "invalid_attachments": M,
    "invalid_blocks": M,
    "invalid_blocks_format": M,
    "invalid_metadata_format": M,
    "invalid_metadata_schema": M,
    "metadata_must_be_sent_from_app": M,
    "metadata_too_large": M,
    "msg_too_long": M,
    "no_text": M,
    "too_many_attachments": M,
    "too_many_contact_cards": M,
    "slack_connect_canvas_sharing_blocked": R,
    "slack_connect_file_link_sharing_blocked": R,
    "slack_connect_lists_sharing_blocked": R,
    "message_limit_exceeded": T,
}

#: method -> error -> scope. "*" holds the errors common to every method.
TABLE: dict[str, dict[str, Scope]] = {
    "*": _COMMON,
    "chat.postMessage": dict(_POSTING),
    "chat.postEphemeral": {
        **_POSTING,
        "user_not_in_channel": R,  # the clicker left the channel: this ephemeral is moot
    },
    "chat.update": {
        **{k: v for k, v in _POSTING.items() if k != "messages_tab_disabled"},
        "cant_update_message": M,
        "edit_window_closed": M,
        "message_not_found": M,
        "block_mismatch": M,
        "cant_broadcast_message": M,
        "no_dual_broadcast_content_update": M,
        "update_failed": T,
        "is_inactive": R,
        "external_channel_migrating": T,
        "streaming_state_conflict": T,
    },
    "chat.delete": {
        "channel_not_found": R,
        "message_not_found": M,
        "cant_delete_message": M,
        "compliance_exports_prevent_deletion": M,
    },
    "conversations.open": {
        "channel_not_found": R,
        "user_not_found": R,
        "user_not_visible": R,
        "user_disabled": R,
        "cannot_dm_bot": R,
        "not_enough_users": M,
        "too_many_users": M,
        "users_list_not_supplied": M,
        "invalid_user_combination": M,
        "method_not_supported_for_channel_type": M,
    },
    "conversations.info": {
        "channel_not_found": R,
        "method_not_supported_for_channel_type": M,
    },
    "users.info": {
        "user_not_found": R,
        "user_not_visible": R,
    },
    "auth.test": {},
    "views.open": {
        "invalid_trigger_id": M,
        "expired_trigger_id": M,
        "exchanged_trigger_id": M,
        "duplicate_external_id": M,
        "view_too_large": M,
        "invalid_blocks": M,
    },
    "views.update": {
        "not_found": M,
        "hash_conflict": T,
        "duplicate_external_id": M,
        "view_too_large": M,
        "invalid_blocks": M,
    },
    "views.publish": {
        # the app's Home tab is off: this view can never be shown, but DMs and channel posts
        # are unaffected, so it is this message's error (dead, logged with the fix), never a
        # pause; turning the tab on brings app_home_opened, which publishes afresh
        "not_enabled": M,
        "hash_conflict": T,
        "invalid_user": R,
        "user_not_found": R,
        "view_too_large": M,
        "invalid_blocks": M,
    },
}

ALL_METHODS = frozenset(m for m in TABLE if m != "*")

#: what an admin must do about an installation-wide error (said by the log, healthz, status).
_FIXES: dict[str, str] = {
    "not_authed": "set SLACK_BOT_TOKEN",
    "invalid_auth": "SLACK_BOT_TOKEN is not a valid token for this workspace: set the bot "
    "token of the installed app (xoxb-...)",
    "account_inactive": "the app's bot user was deactivated or the app uninstalled: reinstall "
    "the app and set its new bot token",
    "token_revoked": "the bot token was revoked (app uninstalled?): reinstall the app and set "
    "its new bot token",
    "token_expired": "the bot token expired (token rotation is on): refresh it or turn "
    "rotation off and set a new token",
    "missing_scope": "add the missing scope under OAuth & Permissions, reinstall the app and "
    "set the new bot token",
    "not_allowed_token_type": "SLACK_BOT_TOKEN must be a bot token (xoxb-...)",
    "messages_tab_disabled": "turn on App Home > Messages Tab (and 'Allow users to send "
    "messages') in the Slack app's settings",
    "not_enabled": "turn on App Home > Home Tab in the Slack app's settings",
}


def classify(method: str, error: str) -> Scope:
    """The scope of `error` answered by `method`; unknown errors are transient (bounded by the
    relay's attempt limit)."""
    specific = TABLE.get(method, {})
    if error in specific:
        return specific[error]
    return _COMMON.get(error, Scope.TRANSIENT)


#: the condition kinds (`store.installation`): a bad token holds every call; the others hold
#: only the rows they cover.
TOKEN_KIND = "token"
DM_KIND = "dm"
SCOPE_PREFIX = "scope:"


def pause_kind(error: str, method: str | None = None) -> str:
    """The InstallationState kind an installation-wide error opens: "token" (every call),
    "dm" (the Messages tab is off: DMs only) or "scope:<method>" (a scope that method needs;
    "scope" alone, when the method is not known, holds everything)."""
    if error in ("missing_scope", "no_permission"):
        return f"{SCOPE_PREFIX}{method}" if method else "scope"
    if error == "messages_tab_disabled":
        return DM_KIND
    return TOKEN_KIND


def fix_for(error: str) -> str:
    return _FIXES.get(error, "check the Slack app's installation and SLACK_BOT_TOKEN")
