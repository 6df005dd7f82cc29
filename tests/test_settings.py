"""Settings are validated at start-up with errors that name the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from liaison.errors import ConfigError
from liaison.settings import ROOT, load_config, load_settings


def test_shipped_config_is_valid() -> None:
    config = load_config(ROOT / "config.yml")
    assert config.default_language == "fr" and len(config.languages) == 6


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("  languages: [fr, de]\n", "languages"),
        ("  default_language: en\n  languages: [fr]\n", "default_language"),
        ("  nlu:\n    fallback_threshold: 3\n", "liaison.nlu.fallback_threshold"),
        ("  nlu:\n    engine: gpt\n", "liaison.nlu.engine"),
        ("  unknown_key: 1\n", "liaison.unknown_key"),
        ("  timezone: Paris\n", "liaison.timezone"),
        ("  sms:\n    max_segments: 1\n", "liaison.sms.max_segments"),
        ("  telegram:\n    messages_per_second: 0\n", "liaison.telegram.messages_per_second"),
        ("  delivery:\n    rate_headroom: 2\n", "liaison.delivery.rate_headroom"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, section: str, key: str) -> None:
    path = tmp_path / "config.yml"
    path.write_text("language: fr\nliaison:\n" + section, encoding="utf-8")
    with pytest.raises(ConfigError, match=key):
        load_config(path)


def test_missing_and_broken_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yml")
    broken = tmp_path / "config.yml"
    broken.write_text("liaison: [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)


def test_database_url_must_be_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://x@y/z")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings()


def test_database_url_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://liaison:s3cret@db:5432/liaison")
    settings = load_settings()
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.database_url)


def test_bad_port_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIAISON_PORT", "99999")
    with pytest.raises(ConfigError, match="LIAISON_PORT"):
        load_settings()
