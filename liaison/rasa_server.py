"""Rasa Open Source beside Liaison: its virtualenv, its trained models, its server process.

Rasa 3.6 needs Python 3.10 and pins libraries Liaison cannot share (SQLAlchemy < 1.5,
pydantic < 1.10.10…), so it lives in `.venv-rasa` (built by `make rasa`) and runs as its own
process on 127.0.0.1; Liaison talks to it over HTTP (`bot.nlu.rasa`).

Models are NLU-only (the dialogue is Liaison's) and are trained from `config.yml`'s Rasa keys
and `bot/data/nlu/` into `var/rasa/models/nlu-<fingerprint>.tar.gz`, where the fingerprint
hashes the training data, those keys and the pinned versions of Rasa and its libraries: a
second `train` with nothing changed returns at once.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import yaml

from bot.nlu.data import fingerprint
from liaison.errors import ConfigError, NLUError
from liaison.settings import ROOT

log = logging.getLogger(__name__)
RASA_VENV = ROOT / ".venv-rasa"
# The exact versions `make rasa` installs (rasa==3.6.21 among them).
RASA_CONSTRAINTS = ROOT / "bot" / "rasa-constraints.txt"
RASA_KEYS = ("recipe", "language", "pipeline", "policies", "assistant_id")
KEEP_MODELS = 3
INSTALL_HINT = (
    "run `make rasa` (it needs CPython 3.10: set RASA_PYTHON, put python3.10 on PATH, or "
    "`pyenv install 3.10`)"
)


@dataclass(frozen=True)
class TrainedModel:
    path: Path
    fingerprint: str
    seconds: float  # training time; 0.0 when the model came from the cache
    cached: bool


def rasa_command(venv: Path = RASA_VENV) -> Path:
    """The `rasa` executable of `venv`; `NLUError` saying how to install it when it is missing."""
    executable = venv / "bin" / "rasa"
    if not executable.exists():
        raise NLUError(f"Rasa is not installed ({executable} is missing): {INSTALL_HINT}")
    return executable


def rasa_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        RASA_TELEMETRY_ENABLED="false",
        # Rasa's own dependencies' deprecation chatter (SQLAlchemy 2.0, pkg_resources, jax)
        # would bury its real messages.
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        PYTHONWARNINGS="ignore::DeprecationWarning",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    return env


def rasa_config(config_file: Path) -> dict[str, Any]:
    """Rasa's keys of `config.yml` (the `liaison:` section is not Rasa's business)."""
    try:
        raw = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{config_file}: cannot read it: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("pipeline"), list):
        raise ConfigError(f"{config_file}: Rasa needs a `pipeline:` list")
    return {key: raw[key] for key in RASA_KEYS if key in raw}


def model_fingerprint(config: dict[str, Any], nlu_dir: Path) -> str:
    files = sorted(nlu_dir.glob("*.yml"))
    if not files:
        raise NLUError(f"no training data in {nlu_dir}")
    versions = RASA_CONSTRAINTS.read_text(encoding="utf-8")
    return fingerprint(files, json.dumps(config, sort_keys=True), versions)


def train(
    config_file: Path,
    nlu_dir: Path,
    models_dir: Path,
    *,
    venv: Path = RASA_VENV,
) -> TrainedModel:
    """Train an NLU model with Rasa (or return the cached one for the same data and config)."""
    config = rasa_config(config_file)
    key = model_fingerprint(config, nlu_dir)
    model = models_dir / f"nlu-{key}.tar.gz"
    if model.exists():
        log.info("Rasa model %s is up to date", model.name)
        return TrainedModel(path=model, fingerprint=key, seconds=0.0, cached=True)
    rasa = rasa_command(venv)
    models_dir.mkdir(parents=True, exist_ok=True)
    # Trained beside the final place and moved in whole: a concurrent `train` (another test
    # run, `make rasa`) never sees a half-written model.
    with tempfile.TemporaryDirectory(prefix=".train-", dir=models_dir) as work:
        config_path = Path(work) / "config.yml"
        config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        log_path = Path(work) / "train.log"
        command = [
            str(rasa),
            "train",
            "nlu",
            "--config",
            str(config_path),
            "--nlu",
            str(nlu_dir),
            "--out",
            work,
            "--fixed-model-name",
            model.name.removesuffix(".tar.gz"),
        ]
        log.info(
            "training the Rasa NLU model %s: minutes (its log goes to %s)",
            model.name,
            models_dir / "train.log",
        )
        started = time.perf_counter()
        with log_path.open("wb") as output:
            status = subprocess.run(  # noqa: S603 - our own fixed command line
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=rasa_environment(),
                cwd=work,  # Rasa writes its cache (.rasa/) into the working folder
                check=False,
            ).returncode
        seconds = time.perf_counter() - started
        shutil.copyfile(log_path, models_dir / "train.log")
        trained = Path(work) / model.name
        if status != 0 or not trained.exists():
            raise NLUError(f"Rasa training failed (exit {status}): {_tail(log_path)}")
        trained.replace(model)
    _prune(models_dir, keep=model)
    log.info("Rasa NLU model trained in %.0f s", seconds)
    return TrainedModel(path=model, fingerprint=key, seconds=seconds, cached=False)


def validate(config_file: Path, bot_dir: Path, *, venv: Path = RASA_VENV) -> str:
    """`rasa data validate` on the domain, the NLU data and the rules; its report, or
    `NLUError` with it when Rasa finds an error."""
    rasa = rasa_command(venv)
    with tempfile.TemporaryDirectory(prefix="liaison-rasa-") as work:
        config_path = Path(work) / "config.yml"
        config_path.write_text(
            yaml.safe_dump(rasa_config(config_file), allow_unicode=True), encoding="utf-8"
        )
        command = [
            str(rasa),
            "data",
            "validate",
            "--domain",
            str(bot_dir / "domain.yml"),
            "--data",
            str(bot_dir / "data" / "nlu"),
            str(bot_dir / "data" / "rules.yml"),
            "--config",
            str(config_path),
        ]
        result = subprocess.run(  # noqa: S603 - our own fixed command line
            command,
            capture_output=True,
            text=True,
            env=rasa_environment(),
            cwd=work,
            check=False,
        )
    report = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        raise NLUError(f"rasa data validate failed (exit {result.returncode}):\n{report}")
    return report


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(
    model: Path,
    *,
    port: int | None = None,
    venv: Path = RASA_VENV,
    log_file: Path | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Rasa server on 127.0.0.1 serving `model`, ready; stopped on exit. Its output goes
    to `log_file` (else it is dropped)."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    with log_file.open("wb") if log_file else open(os.devnull, "wb") as output:
        process = serve(model, port=port, venv=venv, output=output)
        try:
            wait_ready(url, process)
            yield url, process
        finally:
            stop(process)


def serve(
    model: Path,
    *,
    port: int,
    venv: Path = RASA_VENV,
    output: IO[bytes] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `rasa run` with its HTTP API on 127.0.0.1:`port` (not yet ready: see `wait_ready`)."""
    command = [
        str(rasa_command(venv)),
        "run",
        "--enable-api",
        "--model",
        str(model),
        "--interface",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return subprocess.Popen(  # noqa: S603 - our own fixed command line
        command,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        env=rasa_environment(),
        cwd=model.parent,
    )


def wait_ready(url: str, process: subprocess.Popen[bytes], *, timeout: float = 180.0) -> None:
    """Wait until the server at `url` has loaded its model (Rasa takes ~20 s to start)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise NLUError(
                    f"the Rasa server stopped while starting (exit {process.returncode})"
                )
            try:
                status = client.get("/status")
                if status.status_code == 200 and status.json().get("model_file"):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.5)
    raise NLUError(f"the Rasa server at {url} was not ready after {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes], *, grace: float = 15.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _prune(models_dir: Path, *, keep: Path) -> None:
    models = sorted(
        models_dir.glob("nlu-*.tar.gz"), key=lambda path: path.stat().st_mtime, reverse=True
    )
    for old in [path for path in models if path != keep][KEEP_MODELS - 1 :]:
        old.unlink(missing_ok=True)
    for leftover in models_dir.glob(".train-*"):
        if time.time() - leftover.stat().st_mtime > 24 * 3600:  # a training that was killed
            shutil.rmtree(leftover, ignore_errors=True)


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])
