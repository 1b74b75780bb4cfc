"""Settings from the environment (and a `.env` file), never from code or the command line.

Secrets are `SecretStr`: they print as `**********` in reprs, logs and tracebacks.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

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
