"""Settings from the environment (and a `.env` file), never from code or the command line.

Secrets are `SecretStr`: they print as `**********` in reprs, logs and tracebacks.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_POLICY = Path(__file__).resolve().parent.parent / "examples" / "policy.yaml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(
        default="sqlite:///pilotgate.db", validation_alias="PILOTGATE_DATABASE_URL"
    )
    policy: Path = Field(default=DEFAULT_POLICY, validation_alias="PILOTGATE_POLICY")
    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias="SLACK_SIGNING_SECRET"
    )
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", validation_alias="SLACK_API_URL")
    #: "local": flows run in this process; "deployments": runs are created on a Prefect server.
    run_mode: str = Field(default="local", validation_alias="PILOTGATE_RUN_MODE")
    #: how often `serve` relays the outbox and looks for resolved or expired gates.
    tick_seconds: float = Field(default=1.0, validation_alias="PILOTGATE_TICK_SECONDS")
    #: where the CLI looks for a `pilotgate serve` (its GET /healthz) to hand flows over to.
    serve_url: str = Field(default="http://127.0.0.1:3000", validation_alias="PILOTGATE_SERVE_URL")
    #: how long a command waits for `serve` to run a flow it handed over, in seconds.
    handover_timeout: float = Field(default=120.0, validation_alias="PILOTGATE_HANDOVER_TIMEOUT")
    # ---- the web pages (web/) and Sign in with Slack (OpenID Connect)
    #: the pages' public address (redirect URI, cookie `Secure` when https, POST Origin check).
    base_url: str = Field(default="http://127.0.0.1:3000", validation_alias="PILOTGATE_BASE_URL")
    slack_client_id: str | None = Field(default=None, validation_alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(
        default=None, validation_alias="SLACK_CLIENT_SECRET"
    )
    #: only this workspace may sign in and click (unset: any team the secret signs for).
    slack_team_id: str | None = Field(default=None, validation_alias="SLACK_TEAM_ID")
    #: only clicks for this Slack app count (unset: any app the signing secret signs for).
    slack_app_id: str | None = Field(default=None, validation_alias="SLACK_APP_ID")
    slack_openid_authorize_url: str = Field(
        default="https://slack.com/openid/connect/authorize",
        validation_alias="SLACK_OPENID_AUTHORIZE_URL",
    )
    #: signs the session cookie; unset: derived from SLACK_SIGNING_SECRET (web.session).
    session_secret: SecretStr | None = Field(
        default=None, validation_alias="PILOTGATE_SESSION_SECRET"
    )
    #: how long a web sign-in lasts, in hours.
    session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, validation_alias="PILOTGATE_SESSION_HOURS"
    )
    #: how long a name Slack's users.info gave stays fresh (the `people` cache), in hours.
    people_ttl_hours: float = Field(
        default=24.0, gt=0, le=24 * 365, validation_alias="PILOTGATE_PEOPLE_TTL_HOURS"
    )
    #: how many Slack requests the HTTP listener works on at once; the others wait their turn,
    #: first come first served (slack_in.server). At most the database pool's 15 connections.
    listener_threads: int = Field(
        default=4, ge=1, le=15, validation_alias="PILOTGATE_LISTENER_THREADS"
    )
    #: Prefect's UI (e.g. http://prefect.internal:4200), for links to a pilot's flow runs.
    prefect_ui_url: str | None = Field(default=None, validation_alias="PILOTGATE_PREFECT_UI_URL")

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, url: str) -> str:
        """Only the two registers pilotgate is built and tested for, said up front."""
        allowed = "sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise ValueError(f"not a database URL; use {allowed}") from None
        backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
        if backend == "sqlite" and driver == "pysqlite":
            return url
        if backend == "postgresql" and "+" not in parsed.drivername:
            raise ValueError(f"say the driver: {allowed}")
        if backend == "postgresql" and driver == "psycopg":
            return url
        raise ValueError(f"{backend} is not supported; use {allowed}")
