"""Schools, families and parents joining a school, against the real app and PostgreSQL: the
schools file, the families file (every kind of wrong row, the report, re-imports that update
without duplicating), the commands, the staff page (sign-in, CSRF, each account its own
schools), and joining by keyword over SMS, the web and Telegram, or by a link.

Schools here get random UAIs and families random mobile numbers: the database is shared by
the whole test run.
"""

from __future__ import annotations

import html
import os
import random
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from outbox_helpers import deliver_all
from phones import new_mobile
from staff_helpers import csrf_of, make_account

from bot.assistant import Inbound
from bot.keywords import join_request
from bot.store import Conversations
from liaison.settings import ROOT, SUPPORTED_LANGUAGES
from schools import codes, families_csv, hours, imports, report, schools_csv, store
from schools.csv_files import MAX_BYTES, InvalidFile
from schools.demo import COURBARIL, JEAN_MOULIN, add_demo
from schools.store import NewSchool

HEADER = "telephone;langue;ecole;niveau;classe;canal"
LANGUAGES = list(SUPPORTED_LANGUAGES)


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The `liaison` command, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "liaison", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "LIAISON_LOG_LEVEL": "WARNING", **env},
        timeout=300,
        check=False,
    )


def text_of(answer: httpx.Response) -> str:
    """A page's HTML as one line, entities decoded."""
    return " ".join(html.unescape(answer.text).split())


def new_uai() -> str:
    digits = f"{random.randint(0, 9_999_999):07d}"
    return digits + codes.UAI_LETTERS[int(digits) % 23]


def mobile() -> str:
    """A French mobile (E.164), and the way a school would write it."""
    return new_mobile()


def national(e164: str) -> str:
    digits = "0" + e164[3:]
    return " ".join(digits[i : i + 2] for i in range(0, 10, 2))


def csv_file(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


async def new_school(pool: Any, name: str = "Collège Test", **fields: Any) -> store.School:
    uai = new_uai()
    async with pool.connection() as connection, connection.transaction():
        await store.save(connection, [NewSchool(uai, name, **fields)], datetime.now(UTC))
        school_id = (await store.uais(connection))[uai]
        return (await store.load(connection, [school_id]))[0]


async def import_file(pool: Any, data: bytes, **options: Any) -> imports.Result:
    async with pool.connection() as connection, connection.transaction():
        return await imports.run(
            connection, data, languages=LANGUAGES, now=datetime.now(UTC), **options
        )


async def family_of(pool: Any, phone: str) -> dict[str, Any] | None:
    """The family with `phone`: language, channel, classes [(uai, level, class, source)] and
    contacts [(channel, address)]."""
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT id, language, preferred_channel FROM family WHERE phone = %s", (phone,)
        )
        row = await cursor.fetchone()
        if row is None:
            return None
        return await _family(connection, row)


async def family_of_contact(pool: Any, channel: str, address: str) -> dict[str, Any] | None:
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT f.id, f.language, f.preferred_channel FROM family f "
            "JOIN family_contact fc ON fc.family_id = f.id JOIN contact c ON c.id = fc.contact_id "
            "WHERE c.channel = %s AND c.address = %s",
            (channel, address),
        )
        row = await cursor.fetchone()
        return None if row is None else await _family(connection, row)


async def _family(connection: Any, row: Any) -> dict[str, Any]:
    family_id, language, channel = row
    cursor = await connection.execute(
        "SELECT s.uai, fs.level, fs.class_name, fs.source FROM family_school fs "
        "JOIN school s ON s.id = fs.school_id WHERE fs.family_id = %s ORDER BY 1, 3",
        (family_id,),
    )
    classes = [tuple(r) for r in await cursor.fetchall()]
    cursor = await connection.execute(
        "SELECT c.channel, c.address, c.language FROM family_contact fc "
        "JOIN contact c ON c.id = fc.contact_id WHERE fc.family_id = %s ORDER BY 1",
        (family_id,),
    )
    contacts = [tuple(r) for r in await cursor.fetchall()]
    return {
        "id": family_id,
        "language": language,
        "channel": channel,
        "classes": classes,
        "contacts": contacts,
    }


# -- codes and hours ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0750654D", "0750654D"),  # Louis-le-Grand
        (" 0750699c ", "0750699C"),  # Henri-IV, as typed
        ("0931234L", "0931234L"),
        ("9710001Z", "9710001Z"),
        ("0750654E", None),  # wrong check letter
        ("075065D", None),  # six digits
        ("0931234A", None),
        ("ABCDEFGH", None),
        ("", None),
    ],
)
def test_uai_check_letter(raw: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(codes.InvalidUai):
            codes.check_uai(raw)
    else:
        assert codes.check_uai(raw) == expected


def test_join_codes_avoid_ambiguous_characters() -> None:
    drawn = {codes.new_join_code() for _ in range(500)}
    assert len(drawn) > 450
    for code in drawn:
        assert len(code) == 4
        assert not set(code) & set("01OIL")
        assert any(c.isdigit() for c in code) and any(c.isalpha() for c in code)
    assert len(codes.new_join_code(6)) == 6


def test_opening_hours_read_and_written_back() -> None:
    opening = hours.parse("Lundi-Vendredi 8h30-12h, 13:30-17:00; sam 08:30-12:00")
    assert opening["mon"] == [["08:30", "12:00"], ["13:30", "17:00"]]
    assert opening["sat"] == [["08:30", "12:00"]]
    assert "sun" not in opening
    assert hours.format_fr(opening) == "lun-ven 08:30-12:00,13:30-17:00; sam 08:30-12:00"
    assert hours.format_fr(hours.parse("lun,mar 09:00-12:00")) == "lun,mar 09:00-12:00"
    assert hours.parse("") == {}


@pytest.mark.parametrize(
    "text",
    ["lun-ven", "lundo 08:00-12:00", "lun 12:00-08:00", "lun 25:00-26:00", "lun 8-9,8:30-10:00"],
)
def test_wrong_opening_hours_say_why(text: str) -> None:
    with pytest.raises(hours.InvalidHours):
        hours.parse(text)


# -- the schools file ---------------------------------------------------------------------


def test_schools_file_is_all_or_nothing() -> None:
    good = "uai;nom;fuseau;horaires\n0931234L;Collège Jean Moulin;;lun-ven 08:30-12:00\n"
    [school] = schools_csv.read(good.encode("utf-8-sig"))
    assert (school.uai, school.timezone) == ("0931234L", "Europe/Paris")
    assert school.opening_hours["fri"] == [["08:30", "12:00"]]

    bad = (
        "uai,name,timezone\n0931234L,Jean Moulin,\n0931234A,Typo,\n"
        "9710001Z,Courbaril,Mars/Olympus\n"
    )
    with pytest.raises(InvalidFile) as error:
        schools_csv.read(bad.encode())
    assert error.value.problems == [
        "ligne 3 : la lettre de contrôle de l'UAI ne correspond pas aux chiffres",
        "ligne 4 : fuseau horaire inconnu « Mars/Olympus » (ex. America/Guadeloupe)",
    ]


async def test_saving_a_school_again_keeps_its_join_code(pool: Any) -> None:
    school = await new_school(pool, "Ancien nom")
    async with pool.connection() as connection, connection.transaction():
        added, updated = await store.save(
            connection,
            [NewSchool(school.uai, "Nouveau nom", "Indian/Reunion")],
            datetime.now(UTC),
        )
        again = (await store.load(connection, [school.id]))[0]
    assert (added, updated) == (0, 1)
    assert (again.name, again.timezone, again.join_code) == (
        "Nouveau nom",
        "Indian/Reunion",
        school.join_code,
    )


# -- the families file: every kind of wrong row -------------------------------------------

SCHOOLS = {"0931234L": 1, "9710001Z": 2}
KNOWN = {*SCHOOLS, "0750654D"}


def _read(data: bytes) -> families_csv.Checked:
    return families_csv.read(data, schools=SCHOOLS, known=KNOWN, languages=LANGUAGES)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        pytest.param(";fr;0931234L;;;", "numéro de téléphone manquant", id="no-phone"),
        pytest.param("06 12 34;fr;0931234L;;;", "numéro de téléphone invalide", id="bad-phone"),
        pytest.param("tel 0612345678;fr;0931234L;;;", "invalide", id="letters-in-phone"),
        pytest.param("01 40 00 00 00;fr;0931234L;;;", "ligne fixe", id="landline"),
        pytest.param("09 70 00 00 00;fr;0931234L;;;", "ne reçoit pas de SMS", id="voip"),
        pytest.param("0612345678;;0931234L;;;", "langue manquante", id="no-language"),
        pytest.param("0612345678;klingon;0931234L;;;", "langue inconnue « klingon »", id="lang"),
        pytest.param("0612345678;fr;;;;", "école (UAI) manquante", id="no-school"),
        pytest.param("0612345678;fr;0000001B;;;", "école inconnue « 0000001B »", id="school"),
        pytest.param("0612345678;fr;0750654D;;;", "n'est pas parmi les vôtres", id="not-yours"),
        pytest.param("0612345678;fr;0931234L;;;whatsapp", "canal inconnu", id="channel"),
        pytest.param(
            "0612345678;fr;0931234L;;" + "6" * 33 + ";", "classe : 32 caractères", id="long"
        ),
        pytest.param("0612345678;fr;0931234L;;;sms;extra", "plus de cases", id="extra-cells"),
    ],
)
def test_each_wrong_row_is_rejected_with_its_reason(row: str, reason: str) -> None:
    checked = _read(csv_file("0698765432;ar;0931234L;6e;6eB;sms", row))
    assert [r.phone for r in checked.rows] == ["+33698765432"]
    [rejected] = checked.rejected
    assert rejected.line == 3
    assert any(reason in text for text in rejected.reasons), rejected.reasons


def test_a_row_with_several_problems_gets_every_reason() -> None:
    [rejected] = _read(csv_file("abc;xx;0000001B;;;fax")).rejected
    assert len(rejected.reasons) == 4


def test_rows_that_contradict_an_earlier_one_are_rejected() -> None:
    checked = _read(
        csv_file(
            "06 12 34 56 78;ar;0931234L;6e;6eB;sms",
            "+33 6 12 34 56 78;ar;0931234L;6e;6eB;sms",  # the same family in the same class
            "0612345678;tr;0931234L;4e;4eA;sms",  # another language for the same number
            "0612345678;ar;0931234L;4e;4eA;telegram",  # another channel
            "0612345678;ar;0931234L;4e;4eA;sms",  # a second child: fine
            "0612345678;arabe;9710001Z;CM2;;",  # another school, the language by its name
        )
    )
    assert [(r.line, r.school_id, r.class_name) for r in checked.rows] == [
        (2, 1, "6eB"),
        (6, 1, "4eA"),
        (7, 2, ""),
    ]
    assert [(r.line, r.reasons) for r in checked.rejected] == [
        (3, ["même numéro, même école et même classe que la ligne 2"]),
        (4, ["langue différente de la ligne 2 pour ce numéro"]),
        (5, ["canal différent de la ligne 2 pour ce numéro"]),
    ]


def test_headers_in_english_commas_bom_and_language_names() -> None:
    data = "\ufeffPhone,Language,School,Level,Class,Channel\n"
    data += "+590 690 12 34 56,Português,9710001Z,CM2,,Telegram\n"
    data += "0692 12 34 56,TÜRKÇE,9710001Z,,,\n\n,,,,,\n"
    checked = _read(data.encode("utf-8"))
    assert checked.rejected == []
    assert [(r.phone, r.language, r.channel) for r in checked.rows] == [
        ("+590690123456", "pt", "telegram"),
        ("+262692123456", "tr", "sms"),  # a Réunion mobile written nationally
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        pytest.param(b"", "le fichier est vide", id="empty"),
        pytest.param(b" \n\n", "le fichier est vide", id="blank"),
        pytest.param("telephone;langue;école\n0612345678;fr;Collège".encode("latin-1"), "UTF-8",
                     id="latin-1"),
        pytest.param(csv_file(header="telephone;langue"), "colonne « ecole » manquante",
                     id="missing-column"),
        pytest.param(csv_file(header="telephone;langue;ecole;nom de l'enfant"),
                     "colonne inconnue « nom de l'enfant »", id="unknown-column"),
        pytest.param(csv_file(header="telephone;langue;ecole;uai"), "en double",
                     id="twice-the-same-column"),
        pytest.param(csv_file("0612345678;fr;0931234L;;;" + "x" * MAX_BYTES), "2 Mo",
                     id="over-2-MB"),
    ],
)  # fmt: skip
def test_a_wrong_file_imports_nothing(data: bytes, problem: str) -> None:
    with pytest.raises(InvalidFile) as error:
        _read(data)
    assert any(problem in text for text in error.value.problems), error.value.problems


def test_the_report_names_each_line_and_goes_back_in_once_corrected() -> None:
    checked = _read(
        csv_file("0612345678;fr;0931234L;6e;6eA;sms", "06 12 34;fr;0931234L;6e;6eA;sms")
    )
    text = report.write(checked.header, checked.rejected)
    assert text.startswith("\ufeffligne;motif;telephone;langue;ecole;niveau;classe;canal\r\n")
    assert "3;numéro de téléphone invalide" in text
    corrected = text.replace("06 12 34;", "06 98 76 54 32;").encode("utf-8")
    again = _read(corrected)
    assert again.rejected == [] and [r.phone for r in again.rows] == ["+33698765432"]


def test_the_report_defuses_spreadsheet_formulas() -> None:
    checked = _read(csv_file('=HYPERLINK("x");fr;0931234L;;;'))
    assert "'=HYPERLINK" in report.write(checked.header, checked.rejected)


# -- importing: updates, never duplicates -------------------------------------------------


async def test_valid_rows_are_imported_even_when_others_are_rejected(pool: Any) -> None:
    school = await new_school(pool)
    phones = [mobile() for _ in range(3)]
    data = csv_file(
        *(f"{national(p)};ar;{school.uai};6e;6eB;sms" for p in phones),
        f"06 12;ar;{school.uai};6e;6eB;sms",
    )
    result = await import_file(pool, data)
    assert (result.rows, result.imported, len(result.rejected)) == (4, 3, 1)
    assert result.saved.families_created == 3
    family = await family_of(pool, phones[0])
    assert family is not None
    assert family["language"] == "ar" and family["channel"] == "sms"
    assert family["classes"] == [(school.uai, "6e", "6eB", "import")]
    # The SMS number is the family's contact: the conversation with it is the family's.
    assert family["contacts"] == [("sms", phones[0], "ar")]


async def test_dry_run_writes_nothing(pool: Any) -> None:
    school = await new_school(pool)
    phone = mobile()
    result = await import_file(pool, csv_file(f"{phone};fr;{school.uai};;;"), dry_run=True)
    assert result.imported == 1
    assert await family_of(pool, phone) is None


async def test_reimport_updates_without_duplicating(pool: Any) -> None:
    school, other = await new_school(pool), await new_school(pool)
    phone, sibling = mobile(), mobile()
    first = csv_file(
        f"{national(phone)};fr;{school.uai};6e;6eA;sms",
        f"{national(phone)};fr;{school.uai};4e;4eB;sms",  # two children, two classes
        f"{national(phone)};fr;{other.uai};CM2;CM2-1;sms",  # and a third in another school
        f"{national(sibling)};es;{school.uai};6e;6eA;sms",
    )
    await import_file(pool, first)
    family = await family_of(pool, phone)
    assert family is not None
    assert sorted(c[:3] for c in family["classes"]) == sorted(
        [(school.uai, "6e", "6eA"), (school.uai, "4e", "4eB"), (other.uai, "CM2", "CM2-1")]
    )

    # Next year: a new language and channel, the younger one moved up, the elder left; the
    # other school's file is not this one, so its class stays.
    second = csv_file(f"+{phone[1:]};tr;{school.uai};5e;5eA;telegram")
    result = await import_file(pool, second)
    assert result.saved.families_created == 0 and result.saved.families_updated == 1
    again = await family_of(pool, phone)
    assert again is not None
    assert again["id"] == family["id"]
    assert (again["language"], again["channel"]) == ("tr", "telegram")
    assert sorted(c[:3] for c in again["classes"]) == sorted(
        [(school.uai, "5e", "5eA"), (other.uai, "CM2", "CM2-1")]
    )
    # The contact keeps the language it had (the parent's own choice outranks the file).
    assert again["contacts"] == [("sms", phone, "fr")]
    # A family absent from the new file is left as it was.
    untouched = await family_of(pool, sibling)
    assert untouched is not None and untouched["classes"] == [(school.uai, "6e", "6eA", "import")]

    await import_file(pool, second)  # the same file twice changes nothing
    async with pool.connection() as connection:
        cursor = await connection.execute("SELECT count(*) FROM family WHERE phone = %s", (phone,))
        assert (await cursor.fetchone())[0] == 1
        cursor = await connection.execute(
            "SELECT count(*) FROM contact WHERE channel = 'sms' AND address = %s", (phone,)
        )
        assert (await cursor.fetchone())[0] == 1


async def test_an_import_links_the_number_that_already_wrote(
    pool: Any, conversations: Conversations
) -> None:
    school, phone = await new_school(pool), mobile()
    await conversations.handle(Inbound("sms", phone, "مرحبا"))
    await import_file(pool, csv_file(f"{phone};fr;{school.uai};3e;3eC;sms"))
    family = await family_of(pool, phone)
    assert family is not None
    assert family["contacts"] == [("sms", phone, "ar")]  # the same contact, its language kept


# -- the commands -------------------------------------------------------------------------


def test_commands_import_schools_and_families(database: Any, tmp_path: Any) -> None:
    env = {"DATABASE_URL": database.url}
    uai = new_uai()
    schools_file = tmp_path / "ecoles.csv"
    schools_file.write_text(f"uai;nom;horaires\n{uai};Collège CLI;lun-ven 08:00-12:00\n")
    result = run("schools", "import", str(schools_file), env=env)
    assert result.returncode == 0, result.stderr
    assert "1 école(s) ajoutée(s)" in result.stdout
    listing = run("schools", "list", env=env)
    [line] = [line for line in listing.stdout.splitlines() if line.startswith(uai)]
    assert line.endswith("lun-ven 08:00-12:00")
    code = line.split("\t")[1]
    assert codes.CODE_SHAPE.match(code)

    phone = mobile()
    families_file = tmp_path / "familles.csv"
    families_file.write_bytes(
        csv_file(f"{national(phone)};pt;{uai};6e;6eA;sms", f"0612;pt;{uai};6e;6eA;sms")
    )
    dry = run("families", "import", str(families_file), "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "rien n'a été importé" in dry.stdout
    done = run("families", "import", str(families_file), env=env)
    assert done.returncode == 0, done.stderr
    assert "2 ligne(s) lue(s), 1 importée(s) (1 famille(s) ajoutée(s)" in done.stdout
    report_path = tmp_path / "familles-rejets.csv"
    assert str(report_path) in done.stdout
    assert "3;numéro de téléphone invalide" in report_path.read_text(encoding="utf-8-sig")

    wrong = tmp_path / "faux.csv"
    wrong.write_bytes("téléphone;langue\n".encode())
    refused = run("families", "import", str(wrong), env=env)
    assert refused.returncode == 1
    assert "rien n'a été importé" in refused.stderr and "« ecole » manquante" in refused.stderr


async def test_demo_schools_and_families(pool: Any) -> None:
    async with pool.connection() as connection:
        transaction = connection.transaction(force_rollback=True)
        async with transaction:  # the demo's fixed UAIs and codes must not stay for other tests
            await connection.execute(
                "DELETE FROM school WHERE uai = ANY(%s)", ([JEAN_MOULIN.uai, COURBARIL.uai],)
            )
            schools, families = await add_demo(connection, datetime.now(UTC))
            cursor = await connection.execute(
                "SELECT s.join_code, count(DISTINCT fs.family_id), "
                "count(DISTINCT f.language), count(DISTINCT f.preferred_channel) "
                "FROM school s JOIN family_school fs ON fs.school_id = s.id "
                "JOIN family f ON f.id = fs.family_id WHERE s.uai = ANY(%s) GROUP BY 1 ORDER BY 1",
                ([JEAN_MOULIN.uai, COURBARIL.uai],),
            )
            rows = await cursor.fetchall()
            cursor = await connection.execute(
                "SELECT count(*) FROM family f WHERE (SELECT count(DISTINCT school_id) "
                "FROM family_school WHERE family_id = f.id) = 2 AND f.phone LIKE '+336399802%%'"
            )
            in_both = (await cursor.fetchone())[0]
    assert schools == 2 and families == 30
    assert [row[0] for row in rows] == ["7FQ2", "K4GP"]
    assert all(
        count >= 12 and languages >= 4 and channels == 2 for _, count, languages, channels in rows
    )
    assert in_both == 1


# -- joining a school ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "language"),
    [
        ("REJOINDRE 7FQ2", "7FQ2", "fr"),
        ("Rejoindre : 7fq2.", "7FQ2", "fr"),
        ("katıl 7FQ2", "7FQ2", "tr"),
        ("انضمام 7FQ2", "7FQ2", "ar"),
        ("7FQ2 انضمام", "7FQ2", "ar"),
        ("UNIRSE 7FQ2", "7FQ2", "es"),
        ("Adérir 7fq2", "7FQ2", "pt"),
        ("join 7FQ2", "7FQ2", "en"),
        ('/join_school{"code": "7fq2"}', "7FQ2", None),
        ("rejoindre la classe", None, None),  # no digit: not a code
        ("rejoindre 7FQ2 demain", None, None),
        ("join 2024", None, None),
        ("bonjour 7FQ2", None, None),
    ],
)
def test_join_requests(text: str, code: str | None, language: str | None) -> None:
    found = join_request(text)
    if code is None:
        assert found is None
    else:
        assert found is not None and (found.code, found.language) == (code, language)


JOINS = [
    # (channel, the parent writes, the answer's language, words of the answer)
    ("sms", "REJOINDRE {code}", "fr", "Vous êtes maintenant relié(e) à l'école"),
    ("sms", "انضمام {code}", "ar", "أنت الآن مرتبط بالمدرسة"),
    ("sms", "katıl {code}", "tr", "Artık"),
    ("web", "rejoindre {code}", "fr", "Vous recevrez ses messages ici"),
    ("web", "انضمام {code}", "ar", "ستصلك رسائلها هنا"),
    ("web", "KATIL {code}", "tr", "mesajlarını buradan alacaksınız"),
]


@pytest.mark.parametrize(("channel", "text", "language", "expected"), JOINS)
async def test_joining_by_keyword(
    pool: Any,
    conversations: Conversations,
    channel: str,
    text: str,
    language: str,
    expected: str,
) -> None:
    school = await new_school(pool, "Collège des Tests")
    address = mobile() if channel == "sms" else f"test-{uuid.uuid4()}"
    outcome = await conversations.handle(
        Inbound(channel, address, text.format(code=school.join_code.lower()))
    )
    assert outcome.language == language
    assert outcome.events == ["join:joined"]
    assert "STOP" in outcome.replies[0].text  # a first contact is welcomed first
    assert expected in outcome.replies[-1].text and school.name in outcome.replies[-1].text
    family = await family_of_contact(pool, channel, address)
    assert family is not None
    assert (family["language"], family["channel"]) == (language, channel)
    assert family["classes"] == [(school.uai, "", "", "join")]
    if channel == "sms":  # the number is the family's phone: a later import finds it
        assert (await family_of(pool, address) or {}).get("id") == family["id"]


async def test_joining_twice_is_harmless_and_unknown_codes_are_asked_again(
    pool: Any, conversations: Conversations
) -> None:
    school, sender = await new_school(pool, "Collège Deux Fois"), f"test-{uuid.uuid4()}"
    first = await conversations.handle(Inbound("web", sender, f"REJOINDRE {school.join_code}"))
    again = await conversations.handle(Inbound("web", sender, f"rejoindre {school.join_code}"))
    assert first.events == ["join:joined"] and again.events == ["join:already"]
    assert len(again.replies) == 1 and "Collège Deux Fois" in again.replies[0].text
    unknown = await conversations.handle(Inbound("web", sender, "REJOINDRE ZZ99"))
    assert unknown.events == ["join:unknown"]
    assert "Je ne trouve pas d'école avec le code ZZ99" in unknown.replies[0].text
    family = await family_of_contact(pool, "web", sender)
    assert family is not None and family["classes"] == [(school.uai, "", "", "join")]


async def test_joining_a_school_that_imported_the_family_changes_nothing(
    pool: Any, conversations: Conversations
) -> None:
    school, phone = await new_school(pool), mobile()
    await import_file(pool, csv_file(f"{phone};pt;{school.uai};6e;6eA;sms"))
    outcome = await conversations.handle(Inbound("sms", phone, f"aderir {school.join_code}"))
    assert outcome.events == ["join:already"]
    family = await family_of(pool, phone)
    assert family is not None and family["classes"] == [(school.uai, "6e", "6eA", "import")]


async def test_an_opted_out_parent_is_not_answered(pool: Any, conversations: Conversations) -> None:
    school, phone = await new_school(pool), mobile()
    await conversations.handle(Inbound("sms", phone, "STOP"))
    outcome = await conversations.handle(Inbound("sms", phone, f"REJOINDRE {school.join_code}"))
    assert outcome.replies == [] and outcome.events == ["ignored:opted_out"]


async def test_joining_over_sms_end_to_end(
    channel_server_url: str, fakes: Any, pool: Any, delivery: Any
) -> None:
    school, phone = await new_school(pool, "Collège Courbaril"), mobile()
    url = channel_server_url + "/webhooks/twilio/sms"

    async def text(body: str) -> list[str]:
        before = len(fakes.twilio.messages_to(phone))
        response = await fakes.twilio.send_inbound(url, from_=phone, body=body)
        assert response.status_code == 200, response.text
        await deliver_all(delivery, pool, "sms", phone)
        return [m.body for m in fakes.twilio.messages_to(phone)[before:]]

    # A first SMS: the welcome comes first (who we are, STOP); in Arabic it takes the room of
    # one message, so the rest waits for "1", as every long answer over SMS does.
    first = await text(f"انضمام {school.join_code}")
    assert "STOP" in first[0] and "1." in first[-1]
    rest = await text("1")
    assert any("أنت الآن مرتبط بالمدرسة Collège Courbaril" in body for body in rest), rest
    family = await family_of(pool, phone)
    assert family is not None and family["classes"] == [(school.uai, "", "", "join")]


async def test_telegram_deep_link_joins(
    channel_server_url: str, fakes: Any, pool: Any, delivery: Any, chat_id: int
) -> None:
    school = await new_school(pool, "Collège Telegram")
    update = fakes.telegram.message_update(
        chat_id, f"/start join_{school.join_code}", language_code="es"
    )
    response = await fakes.telegram.post_update(
        channel_server_url + "/webhooks/telegram",
        update,
        secret_token="test-webhook-secret-0123456789",
    )
    assert response.status_code == 200, response.text
    await deliver_all(delivery, pool, "telegram", str(chat_id))
    texts = [m.text for m in fakes.telegram.messages_to(chat_id)]
    assert any("Ahora está conectado(a) a la escuela Collège Telegram" in t for t in texts), texts
    family = await family_of_contact(pool, "telegram", str(chat_id))
    assert family is not None
    assert (family["language"], family["channel"]) == ("es", "telegram")
    assert family["classes"] == [(school.uai, "", "", "join")]


async def test_web_link_opens_the_chat_on_joining(live_server_url: str, pool: Any) -> None:
    school = await new_school(pool, "Collège Web")
    async with httpx.AsyncClient(base_url=live_server_url, timeout=10) as client:
        page = await client.get(f"/?ecole={school.join_code.lower()}&lang=pt")
        assert f'data-school="{school.join_code}"' in page.text
        forged = await client.get('/?ecole="><script>')
        assert 'data-school=""' in forged.text
        sender = f"test-{uuid.uuid4()}"
        answer = await client.post(
            "/webhooks/rest/webhook",
            json={
                "sender": sender,
                "message": '/join_school{"code":"' + school.join_code.lower() + '"}',
                "metadata": {"language": "pt"},
            },
        )
    assert answer.status_code == 200
    texts = [reply["text"] for reply in answer.json()]
    assert "Agora está ligado(a) à escola Collège Web" in texts[-1]


# -- the staff page -----------------------------------------------------------------------


async def _school_staff(pool: Any, staff_clients: Any, url: str, *schools: store.School) -> Any:
    account = await make_account(pool, roles=("school",), schools=[s.id for s in schools])
    client, answer = staff_clients.sign_in(url, account.email)
    assert answer.status_code == 303
    return client


def _upload(client: Any, data: bytes, *, csrf: str | None = None) -> httpx.Response:
    token = csrf if csrf is not None else csrf_of(client.get("/staff/familles").text)
    return client.post(
        "/staff/familles/import",
        data={"csrf": token},
        files={"fichier": ("familles.csv", data, "text/csv")},
    )


async def test_the_page_needs_a_school_account(
    live_server_url: str, pool: Any, staff_clients: Any
) -> None:
    anonymous = staff_clients.new(live_server_url)
    answer = anonymous.get("/staff/familles")
    assert answer.status_code == 303 and "/staff/connexion" in answer.headers["location"]
    assert anonymous.get("/staff/familles/rapport.csv").status_code == 303
    organiser = await make_account(pool, roles=("organiser",))
    client, _ = staff_clients.sign_in(live_server_url, organiser.email)
    assert client.get("/staff/familles").status_code == 403


async def test_school_staff_see_only_their_schools(
    live_server_url: str, pool: Any, staff_clients: Any
) -> None:
    mine, theirs = await new_school(pool, "Mon collège"), await new_school(pool, "Leur collège")
    phones = [mobile() for _ in range(3)]
    await import_file(
        pool,
        csv_file(
            f"{phones[0]};ar;{mine.uai};6e;6eA;sms",
            f"{phones[0]};ar;{mine.uai};4e;4eA;sms",  # one family, counted once
            f"{phones[1]};tr;{mine.uai};6e;6eA;telegram",
            f"{phones[2]};fr;{theirs.uai};6e;6eA;sms",
        ),
    )
    client = await _school_staff(pool, staff_clients, live_server_url, mine)
    page = client.get("/staff/familles")
    assert page.status_code == 200
    assert mine.name in page.text and mine.join_code in page.text
    assert theirs.name not in page.text and theirs.join_code not in page.text
    assert f'data-uai="{mine.uai}"' in page.text
    assert 'data-testid="families-total">2<' in page.text
    assert "Arabe" in page.text and "Turc" in page.text and "Telegram" in page.text
    assert f"REJOINDRE {mine.join_code}" in page.text and f"?ecole={mine.join_code}" in page.text

    admin = await make_account(pool, roles=("admin",))
    admin_client, _ = staff_clients.sign_in(live_server_url, admin.email)
    everything = admin_client.get("/staff/familles").text
    assert mine.name in everything and theirs.name in everything


async def test_import_from_the_page_with_its_report(
    live_server_url: str, pool: Any, staff_clients: Any
) -> None:
    mine, theirs = await new_school(pool), await new_school(pool)
    client = await _school_staff(pool, staff_clients, live_server_url, mine)
    assert client.get("/staff/familles/rapport.csv").status_code == 404  # no import yet
    phone = mobile()
    answer = _upload(
        client,
        csv_file(
            f"{national(phone)};es;{mine.uai};6e;6eA;sms",
            f"{mobile()};es;{theirs.uai};6e;6eA;sms",  # another school: not this account's
            f"06;es;{mine.uai};6e;6eA;sms",
        ),
    )
    assert answer.status_code == 200, answer.text
    page = text_of(answer)
    assert "3 ligne(s) lue(s) : 1 importée(s) (1 nouvelle(s) famille(s)" in page
    assert "2 ligne(s) rejetée(s)" in page
    assert f"l'école {theirs.uai} n'est pas parmi les vôtres" in page
    family = await family_of(pool, phone)
    assert family is not None and family["classes"] == [(mine.uai, "6e", "6eA", "import")]

    csv_report = client.get("/staff/familles/rapport.csv")
    assert csv_report.status_code == 200
    assert csv_report.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_report.headers["content-disposition"]
    lines = csv_report.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "ligne;motif;telephone;langue;ecole;niveau;classe;canal"
    assert [line.split(";")[0] for line in lines[1:]] == ["3", "4"]
    assert "Dernier import" in client.get("/staff/familles").text

    # Another account never gets this account's report.
    other = await _school_staff(pool, staff_clients, live_server_url, mine)
    assert other.get("/staff/familles/rapport.csv").status_code == 404
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT action, detail FROM audit_log WHERE action = 'families.imported' "
            "ORDER BY id DESC LIMIT 1"
        )
        _action, detail = await cursor.fetchone()
    assert detail == {"rows": 3, "imported": 1, "rejected": 2, "families_created": 1}


async def test_wrong_uploads(live_server_url: str, pool: Any, staff_clients: Any) -> None:
    school = await new_school(pool)
    client = await _school_staff(pool, staff_clients, live_server_url, school)
    forged = _upload(client, csv_file(f"{mobile()};fr;{school.uai};;;"), csrf="forged")
    assert forged.status_code == 403
    no_token = client.post("/staff/familles/import", files={"fichier": ("f.csv", b"x")})
    assert no_token.status_code == 403
    latin = _upload(client, "téléphone;langue;école\n".encode("latin-1"))
    assert latin.status_code == 422 and "Rien n'a été importé" in text_of(latin)
    assert "UTF-8" in latin.text
    missing = _upload(client, b"telephone;langue\n0612345678;fr\n")
    assert missing.status_code == 422 and "colonne « ecole » manquante" in text_of(missing)
    empty = _upload(client, b"")
    assert empty.status_code == 422 and "Choisissez un fichier" in empty.text
    huge = _upload(client, csv_file("x" * (MAX_BYTES + 10)))
    assert huge.status_code == 413
