"""Settings, read and validated once at start-up.

Two sources, two jobs:

* `Settings` — deployment and secrets, from the environment or `.env` (DATABASE_URL, host, port,
  public URL, data folder). Secrets are `SecretStr` and never print.
* `AssistantConfig` — behaviour, from the `liaison:` section of `config.yml` (languages,
  thresholds, engine). Rasa's own keys in the same file are left to Rasa.

Both raise `ConfigError` naming the key and the fix.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from liaison.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
SUPPORTED_LANGUAGES = ("fr", "en", "ar", "tr", "pt", "es")


class Settings(BaseSettings):
    """Deployment settings from the environment (prefix-free for DATABASE_URL, `LIAISON_` else)."""

    model_config = SettingsConfigDict(env_file=".env", env_prefix="LIAISON_", extra="ignore")

    database_url: SecretStr | None = Field(default=None, validation_alias="DATABASE_URL")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8000"
    data_dir: Path = ROOT / "var"
    config_file: Path = ROOT / "config.yml"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Signs staff check-in codes. Unset: a random key is made once and kept in
    # `data_dir/secret_key` (`liaison.secrets.secret_key`); every process must share it.
    secret_key: SecretStr | None = None

    # SMS over Twilio: the channel is on when all three are set.
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    # The sending number in E.164 (+33...) or a Messaging Service SID (MG...).
    twilio_from: str | None = None
    # Telegram: the channel is on when the bot token is set. Webhook mode also needs the secret.
    telegram_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    # Provider API base URLs, for the fake providers of tests and local development only.
    twilio_api_url: str | None = None
    telegram_api_url: str | None = None
    # The Rasa server's HTTP API, for `liaison.nlu.engine: rasa` (`liaison rasa serve`).
    rasa_url: str = "http://127.0.0.1:5005"

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from)

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_token is not None and bool(self.telegram_token.get_secret_value())

    @model_validator(mode="after")
    def _check_database_url(self) -> Settings:
        if self.database_url is not None:
            url = self.database_url.get_secret_value()
            if not url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
                raise ValueError(
                    "DATABASE_URL must be a PostgreSQL URL such as "
                    "postgresql://user:password@host:5432/liaison; unset it to use the "
                    "embedded PostgreSQL under var/"
                )
        return self


class NLUConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    engine: Literal["embedded", "rasa"] = "embedded"
    # With `engine: rasa`: a parse slower than this is answered by the embedded engine.
    rasa_timeout_seconds: float = Field(default=1.0, gt=0, le=30)
    fallback_threshold: float = Field(default=0.4, ge=0.0, le=1.0)
    fallbacks_before_handover: int = Field(default=2, ge=1, le=10)


class LanguageDetectionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    switch_confidence: float = Field(default=0.85, ge=0.0, le=1.0)
    min_letters: int = Field(default=12, ge=1)


class MessagesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_bytes: int = Field(default=4096, ge=64, le=65536)


class PrivacyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retention_days: int = Field(default=365, ge=1)


class SmsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Each turn's answer stays within this many segments (longer answers are cut into a short
    # part plus "reply 1 for the rest"). 3 segments = 459 GSM-7 or 201 UCS-2 characters.
    max_segments: int = Field(default=3, ge=2, le=10)
    # Per sending number, across all workers.
    segments_per_second: float = Field(default=10.0, gt=0)


class TelegramConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Telegram's own limits: about 30 messages/s per bot, 1/s per chat.
    messages_per_second: float = Field(default=25.0, gt=0)
    per_chat_per_second: float = Field(default=1.0, gt=0)


class DeliveryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=8, ge=1, le=50)
    backoff_seconds: float = Field(default=2.0, gt=0)
    backoff_max_seconds: float = Field(default=600.0, gt=0)
    send_timeout_seconds: float = Field(default=15.0, gt=0)
    # Bulk sends (broadcasts, reminders) book a rate-limit slot at most this far ahead, so a
    # reply to a parent who is chatting never queues behind more than this much bulk traffic.
    bulk_horizon_seconds: float = Field(default=0.2, ge=0)
    worker_concurrency: int = Field(default=8, ge=1, le=200)
    # A worker that has not beaten for `stalled_after_seconds` is dead: its jobs run again.
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    stalled_after_seconds: float = Field(default=30.0, gt=0)
    # Sends are booked at this share of each configured rate, so that the few milliseconds of
    # jitter between a booked slot and the provider's clock never push a second over the limit.
    rate_headroom: float = Field(default=0.95, ge=0.5, le=1.0)
    # Limits off: for benchmarks of the pipeline itself. Never in production.
    rate_limits: bool = True


class QuietHoursConfig(BaseModel):
    """Nothing non-urgent (reminders, follow-ups, broadcasts) between `start` and `end` the
    next morning, on Sundays or on public holidays, on the clock of the place concerned."""

    model_config = ConfigDict(extra="forbid")

    start: time = time(20, 0)
    end: time = time(8, 0)
    sundays: bool = True
    public_holidays: bool = True

    @model_validator(mode="after")
    def _check_night(self) -> QuietHoursConfig:
        if self.end >= self.start:
            raise ValueError("quiet_hours: `end` (the morning) must come before `start`")
        return self


class RemindersConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Hours before a workshop's start; each moved out of quiet hours, dropped if that moment
    # is not before the start.
    hours_before: list[float] = Field(default_factory=lambda: [48.0, 3.0])

    @field_validator("hours_before")
    @classmethod
    def _check_hours(cls, hours: list[float]) -> list[float]:
        if any(h <= 0 or h > 24 * 14 for h in hours):
            raise ValueError("each reminder is between 0 and 336 hours before the start")
        return hours


class FollowupsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # After a workshop, on the venue's clock: thanks (or "we missed you") the next day at `hour`,
    # the autonomy check `autonomy_after_days` later; each moved past Sundays, public holidays
    # and quiet hours.
    hour: time = time(10, 0)
    autonomy_after_days: int = Field(default=7, ge=2, le=60)


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class InboxConfig(BaseModel):
    """The staff inbox: the team that answers parents whose school is not known (the default
    team), and when people answer, on its clock. Schools give their own hours."""

    model_config = ConfigDict(extra="forbid")

    default_team: str = "Équipe Liaison"
    # None: `liaison.timezone`.
    timezone: str | None = None
    # {"mon": [["08:30", "12:00"], ["13:30", "17:00"]], ...}; a day left out is closed.
    # Public holidays are closed too.
    opening_hours: dict[str, list[tuple[str, str]]] = Field(
        default_factory=lambda: {day: [("08:30", "12:00"), ("13:30", "17:00")] for day in _DAYS[:5]}
    )

    @field_validator("opening_hours")
    @classmethod
    def _check_hours(
        cls, hours: dict[str, list[tuple[str, str]]]
    ) -> dict[str, list[tuple[str, str]]]:
        for day, spans in hours.items():
            if day not in _DAYS:
                raise ValueError(f"unknown day {day!r}; use {', '.join(_DAYS)}")
            for start, end in spans:
                if not (_CLOCK.match(start) and _CLOCK.match(end)) or start >= end:
                    raise ValueError(
                        f'{day}: [{start!r}, {end!r}] must be two quoted times "HH:MM", '
                        "the first before the second"
                    )
        return hours

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, name: str | None) -> str | None:
        if name is not None:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"{name!r} is not a time zone such as Europe/Paris") from exc
        return name


class AssistantConfig(BaseModel):
    """The `liaison:` section of config.yml."""

    model_config = ConfigDict(extra="forbid")

    languages: list[str] = Field(default_factory=lambda: list(SUPPORTED_LANGUAGES))
    default_language: str = "fr"
    # Where the schools served are: the time zone parents are assumed to live by when their
    # channel does not tell (an SMS number from Guadeloupe does).
    timezone: str = "Europe/Paris"
    nlu: NLUConfig = Field(default_factory=NLUConfig)
    language_detection: LanguageDetectionConfig = Field(default_factory=LanguageDetectionConfig)
    messages: MessagesConfig = Field(default_factory=MessagesConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    sms: SmsConfig = Field(default_factory=SmsConfig)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    quiet_hours: QuietHoursConfig = Field(default_factory=QuietHoursConfig)
    reminders: RemindersConfig = Field(default_factory=RemindersConfig)
    followups: FollowupsConfig = Field(default_factory=FollowupsConfig)
    inbox: InboxConfig = Field(default_factory=InboxConfig)

    @field_validator("languages")
    @classmethod
    def _check_languages(cls, languages: list[str]) -> list[str]:
        unknown = [code for code in languages if code not in SUPPORTED_LANGUAGES]
        if unknown or not languages:
            raise ValueError(
                f"unsupported language(s) {unknown}; choose among {list(SUPPORTED_LANGUAGES)}"
            )
        return languages

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{name!r} is not a time zone such as Europe/Paris") from exc
        return name

    @model_validator(mode="after")
    def _check_default_language(self) -> AssistantConfig:
        if self.default_language not in self.languages:
            raise ValueError(
                f"liaison.default_language {self.default_language!r} is not in liaison.languages"
            )
        return self


def load_settings(**overrides: object) -> Settings:
    """Read deployment settings; `ConfigError` names the environment variable at fault."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_describe(exc, prefix="environment variable ", env=True)) from exc


def load_config(path: Path) -> AssistantConfig:
    """Read and validate the `liaison:` section of config.yml."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path} not found: the assistant needs its config.yml") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a mapping with a `liaison:` section")
    section = raw.get("liaison") or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: `liaison:` must be a mapping")
    try:
        return AssistantConfig.model_validate(section)
    except ValidationError as exc:
        raise ConfigError(f"{path}: " + _describe(exc, prefix="liaison.")) from exc


def _describe(exc: ValidationError, *, prefix: str, env: bool = False) -> str:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(root)"
        if env and key != "(root)":
            key = "DATABASE_URL" if key == "DATABASE_URL" else f"LIAISON_{key.upper()}"
        problems.append(f"{prefix}{key}: {error['msg']}")
    return "; ".join(problems)
