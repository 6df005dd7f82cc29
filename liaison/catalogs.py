"""Building the gettext catalogs with Babel: extract, update, compile, check.

Sources of parent-facing words: `_()`/`N_()` calls in Python, the response texts and button
titles of `bot/domain.yml`, and every text of `content/*.yml`. French is the source language.
`check()` is what CI runs: the `.pot` must match the sources and every language must be fully
translated, with no fuzzy entry and the same `{placeholders}` as the French.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import yaml
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from liaison.i18n import DOMAIN, LOCALES, SOURCE_LANGUAGE
from liaison.settings import ROOT

PYTHON_SOURCES = ("bot", "channels", "liaison", "workshops", "broadcasts", "schools")
TEMPLATE_SOURCES = ("channels/templates",)
POT = LOCALES / f"{DOMAIN}.pot"
_PLACEHOLDER = re.compile(r"\{[a-z_]*\}")


def _yaml_strings(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of every string worth translating in a domain or content file."""
    document = yaml.compose(path.read_text(encoding="utf-8"))

    def walk(node: yaml.Node, key: str | None) -> Iterator[tuple[int, str]]:
        if isinstance(node, yaml.MappingNode):
            for key_node, value in node.value:
                yield from walk(value, str(key_node.value))
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                yield from walk(item, key)
        elif isinstance(node, yaml.ScalarNode) and key in _TRANSLATED_KEYS and node.value:
            yield node.start_mark.line + 1, str(node.value)

    if document is not None:
        yield from walk(document, None)


_TRANSLATED_KEYS = frozenset({"text", "title", "answer", "steps", "if_it_fails"})


def extract() -> Catalog:
    catalog = Catalog(
        project="Liaison",
        locale=SOURCE_LANGUAGE,
        charset="utf-8",
        fuzzy=False,
        header_comment="# Liaison's parent-facing words (source: French).",
    )
    for folder in PYTHON_SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, message, comments, _context in extract_from_file(
                "python", str(path), keywords={"_": None, "N_": None, "gettext": None}
            ):
                if isinstance(message, str) and message:
                    catalog.add(message, locations=[(_rel(path), line)], auto_comments=comments)
    for folder in TEMPLATE_SOURCES:
        for path in sorted((ROOT / folder).rglob("*.html")):
            for line, message, comments, _context in extract_from_file(
                "jinja2",
                str(path),
                keywords={"_": None, "gettext": None},
                options={"extensions": "jinja2.ext.i18n"},
            ):
                if isinstance(message, str) and message:
                    catalog.add(message, locations=[(_rel(path), line)], auto_comments=comments)
    yaml_files = [ROOT / "bot" / "domain.yml", *sorted((ROOT / "content").glob("*.yml"))]
    for path in yaml_files:
        for line, message in _yaml_strings(path):
            catalog.add(message, locations=[(_rel(path), line)])
    return catalog


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def write_pot(catalog: Catalog, path: Path = POT) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, omit_header=False, sort_output=True, width=100, include_lineno=False)
    path.write_bytes(_strip_dates(buffer.getvalue()))


def _strip_dates(po: bytes) -> bytes:
    # Dates in headers would make every extract a diff; the history is in git.
    return re.sub(rb'"(POT-Creation-Date|PO-Revision-Date): [^"]*\\n"\n', b"", po)


def update(languages: list[str]) -> None:
    """Merge the .pot into every language's .po (new entries empty, obsolete ones dropped)."""
    with POT.open("rb") as handle:
        template = read_po(handle)
    for code in languages:
        if code == SOURCE_LANGUAGE:
            continue
        path = LOCALES / code / "LC_MESSAGES" / f"{DOMAIN}.po"
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=code)
        else:
            catalog = Catalog(locale=code, project="Liaison")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        write_po(buffer, catalog, sort_output=True, width=100, include_lineno=False)
        path.write_bytes(_strip_dates(buffer.getvalue()))


def compile_all(languages: list[str]) -> None:
    for code in languages:
        if code == SOURCE_LANGUAGE:
            continue
        folder = LOCALES / code / "LC_MESSAGES"
        with (folder / f"{DOMAIN}.po").open("rb") as handle:
            catalog = read_po(handle, locale=code)
        with (folder / f"{DOMAIN}.mo").open("wb") as handle:
            write_mo(handle, catalog)


def check(languages: list[str]) -> list[str]:
    """Problems that must fail CI: a stale .pot, or missing, fuzzy or broken translations."""
    problems: list[str] = []
    sources = {m.id for m in extract() if m.id}
    if not POT.exists():
        return [f"{_rel(POT)} is missing: run `make i18n`"]
    with POT.open("rb") as handle:
        pot_ids = {m.id for m in read_po(handle) if m.id}
    if sources != pot_ids:
        added, gone = sorted(map(str, sources - pot_ids)), sorted(map(str, pot_ids - sources))
        problems.append(f"{_rel(POT)} is stale (run `make i18n`): new {added[:3]}, gone {gone[:3]}")
    for code in languages:
        if code == SOURCE_LANGUAGE:
            continue
        path = LOCALES / code / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not path.exists():
            problems.append(f"{_rel(path)} is missing")
            continue
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=code)
        for message in catalog:
            if not message.id:
                continue
            where = f"{_rel(path)}: {str(message.id)[:60]!r}"
            if message.id not in sources:
                problems.append(f"{where}: not in the sources any more")
            elif not message.string:
                problems.append(f"{where}: untranslated")
            elif message.fuzzy:
                problems.append(f"{where}: fuzzy")
            elif sorted(_PLACEHOLDER.findall(str(message.id))) != sorted(
                _PLACEHOLDER.findall(str(message.string))
            ):
                problems.append(f"{where}: placeholders differ")
        missing = sources - {m.id for m in catalog if m.id}
        for message_id in sorted(map(str, missing))[:5]:
            problems.append(f"{_rel(path)}: missing {message_id[:60]!r}")
    return problems
