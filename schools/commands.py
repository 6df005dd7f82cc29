"""The `liaison schools` and `liaison families` commands (added to `liaison.cli`'s parser).

liaison schools import FILE [--dry-run]     add or update schools (uai, nom, fuseau, horaires)
liaison schools list                        the schools, their join codes and hours
liaison families import FILE [--dry-run] [--report PATH]
                                            families from a school's file; the rejected rows
                                            go to a report (default FILE-rejets.csv)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from psycopg import AsyncConnection

from liaison.errors import LiaisonError
from liaison.settings import AssistantConfig, Settings
from schools import hours, imports, schools_csv, store
from schools.csv_files import InvalidFile

T = TypeVar("T")


def add_commands(commands: Any) -> None:
    """Add `schools` and `families` to the `liaison` command's subparsers."""
    schools = commands.add_parser("schools", help="the schools").add_subparsers()
    importing = schools.add_parser("import", help="add or update schools from a CSV file")
    importing.add_argument("file", type=Path)
    importing.add_argument("--dry-run", action="store_true", help="check the file only")
    importing.set_defaults(handler=schools_import)
    schools.add_parser("list", help="the schools and their join codes").set_defaults(
        handler=schools_list
    )
    families = commands.add_parser("families", help="the families").add_subparsers()
    importing = families.add_parser("import", help="add or update families from a CSV file")
    importing.add_argument("file", type=Path)
    importing.add_argument("--dry-run", action="store_true", help="check the file only")
    importing.add_argument(
        "--report", type=Path, default=None, help="where to write the rejected rows"
    )
    importing.set_defaults(handler=families_import)


def _in_transaction(settings: Settings, work: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
    from liaison.database import migrate, open_database

    database = open_database(settings)
    migrate(database)

    async def run() -> T:
        async with (
            await AsyncConnection.connect(database.url) as connection,
            connection.transaction(),
        ):
            return await work(connection)

    return asyncio.run(run())


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise LiaisonError(f"{path}: {error.strerror or error}") from error


def _refused(path: Path, error: InvalidFile) -> int:
    print(f"{path} : rien n'a été importé, {len(error.problems)} problème(s) :", file=sys.stderr)
    for problem in error.problems:
        print(f"  {problem}", file=sys.stderr)
    return 1


def schools_import(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    try:
        found = schools_csv.read(_read(args.file))
    except InvalidFile as error:
        return _refused(args.file, error)
    if args.dry_run:
        print(f"{args.file} : {len(found)} école(s), toutes valides (rien n'a été importé)")
        return 0
    added, updated = _in_transaction(
        settings, lambda connection: store.save(connection, found, datetime.now(UTC))
    )
    print(f"{args.file} : {added} école(s) ajoutée(s), {updated} mise(s) à jour")
    print("liaison schools list : leurs codes pour rejoindre")
    return 0


def schools_list(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    found = _in_transaction(settings, store.load)
    if not found:
        print("aucune école : liaison schools import FICHIER")
    for school in found:
        opening = hours.format_fr(school.opening_hours) or "horaires non renseignés"
        print(f"{school.uai}\t{school.join_code}\t{school.name}\t{school.timezone}\t{opening}")
    return 0


def families_import(args: argparse.Namespace, settings: Settings, config: AssistantConfig) -> int:
    data = _read(args.file)

    async def work(connection: AsyncConnection[Any]) -> imports.Result:
        return await imports.run(
            connection,
            data,
            languages=config.languages,
            now=datetime.now(UTC),
            dry_run=args.dry_run,
        )

    try:
        result = _in_transaction(settings, work)
    except InvalidFile as error:
        return _refused(args.file, error)
    if args.dry_run:
        print(f"{args.file} : vérification seulement, rien n'a été importé")
    saved = result.saved
    print(
        f"{args.file} : {result.rows} ligne(s) lue(s), {result.imported} importable(s)"
        if args.dry_run
        else f"{args.file} : {result.rows} ligne(s) lue(s), {result.imported} importée(s) "
        f"({saved.families_created} famille(s) ajoutée(s), {saved.families_updated} déjà "
        "connue(s) et mise(s) à jour)"
    )
    if not result.rejected:
        print("aucune ligne rejetée")
        return 0
    report = args.report or args.file.with_name(f"{args.file.stem}-rejets.csv")
    report.write_text(result.report, encoding="utf-8")
    others = "seraient importées" if args.dry_run else "sont importées"
    print(
        f"{len(result.rejected)} ligne(s) rejetée(s), les autres {others} ; "
        f"le rapport (ligne et motif de chacune) : {report}"
    )
    return 0
