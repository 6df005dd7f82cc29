"""The `liaison` command's documented outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from liaison.settings import ROOT

LIAISON = [sys.executable, "-m", "liaison"]


def run(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIAISON_LOG_LEVEL": "WARNING", **(env or {})}
    return subprocess.run(
        [*LIAISON, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
        check=False,
    )


def test_nlu_parse_prints_one_json_per_line() -> None:
    result = run("nlu", "parse", stdin="bonjour\nmdp oublié\n\nكيف أرى الواجبات\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    parsed = [json.loads(line) for line in lines]
    assert [p["intent"]["name"] for p in parsed][:2] == ["greet", "faq_password_reset"]
    for p in parsed:
        assert set(p) == {"text", "intent", "intent_ranking", "entities", "language"}
    assert parsed[3]["language"]["code"] == "ar"


def test_nlu_evaluate_prints_accuracy_and_macro_f1() -> None:
    result = run("nlu", "evaluate", "bot/data/tests/")
    assert result.returncode == 0, result.stderr
    assert "accuracy:" in result.stdout and "macro-F1:" in result.stdout


def test_nlu_evaluate_reads_tsv(tmp_path) -> None:  # type: ignore[no-untyped-def]
    tsv = tmp_path / "cases.tsv"
    tsv.write_text("greet\tbonjour\nthanks\tmerci beaucoup\n", encoding="utf-8")
    result = run("nlu", "evaluate", str(tsv))
    assert result.returncode == 0, result.stderr
    assert "examples: 2" in result.stdout


def test_missing_evaluation_file_is_a_clear_error() -> None:
    result = run("nlu", "evaluate", "no/such/file.yml")
    assert result.returncode == 1
    assert "no such file" in result.stderr


def test_bad_config_fails_with_the_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "config.yml"
    config.write_text("liaison:\n  languages: [xx]\n", encoding="utf-8")
    env = {**os.environ, "LIAISON_CONFIG_FILE": str(config)}
    result = subprocess.run(
        [*LIAISON, "nlu", "train"], capture_output=True, text=True, cwd=ROOT, env=env, check=False
    )
    assert result.returncode == 1 and "languages" in result.stderr


def test_chat_in_the_terminal(database) -> None:  # type: ignore[no-untyped-def]
    result = run(
        "chat", stdin="bonjour\nmot de passe oublié\n2\n", env={"DATABASE_URL": database.url}
    )
    assert result.returncode == 0, result.stderr
    assert "STOP" in result.stdout  # the welcome
    assert "Mot de passe oublié" in result.stdout
    assert "  1. " in result.stdout  # buttons shown as numbered choices
