"""Settings, read and validated once at start-up.

Two sources, two jobs:

* `Settings` — deployment and secrets, from the environment or `.env` (DATABASE_URL, host, port,
  public URL, data folder). Secrets are `SecretStr` and never print.
* `AssistantConfig` — behaviour, from the `liaison:` section of `config.yml` (languages,
  thresholds, engine). Rasa's own keys in the same file are left to Rasa.

Both raise `ConfigError` naming the key and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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


class AssistantConfig(BaseModel):
    """The `liaison:` section of config.yml."""

    model_config = ConfigDict(extra="forbid")

    languages: list[str] = Field(default_factory=lambda: list(SUPPORTED_LANGUAGES))
    default_language: str = "fr"
    nlu: NLUConfig = Field(default_factory=NLUConfig)
    language_detection: LanguageDetectionConfig = Field(default_factory=LanguageDetectionConfig)
    messages: MessagesConfig = Field(default_factory=MessagesConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)

    @field_validator("languages")
    @classmethod
    def _check_languages(cls, languages: list[str]) -> list[str]:
        unknown = [code for code in languages if code not in SUPPORTED_LANGUAGES]
        if unknown or not languages:
            raise ValueError(
                f"unsupported language(s) {unknown}; choose among {list(SUPPORTED_LANGUAGES)}"
            )
        return languages

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
