"""SMS text: segment counting against known examples, rendering numbered choices, reading them."""

from __future__ import annotations

import pytest

from bot.replies import Button, Reply
from channels.sms_text import SegmentCount, choice_payload, encoding, render_sms, segments

EMOJI = "😀"  # outside the BMP: one surrogate pair, 2 UTF-16 units
ALEF = "ا"

SEGMENT_CASES = [
    # (label, text, encoding, units, count)
    ("empty", "", "GSM-7", 0, 1),
    ("160 plain", "a" * 160, "GSM-7", 160, 1),
    ("161 plain", "a" * 161, "GSM-7", 161, 2),
    ("153*2 plain", "a" * 306, "GSM-7", 306, 2),
    ("153*2+1 plain", "a" * 307, "GSM-7", 307, 3),
    ("French é/è stays GSM-7", "Réunion élèves, très intéressée " * 5, "GSM-7", 160, 1),
    ("GSM accents", "éèùìòÇØøÅåÄÖÑÜäöñüàÉßÆæ", "GSM-7", 23, 1),
    ("newline and CR are basic", "a\r\nb", "GSM-7", 4, 1),
    ("ê forces UCS-2, 70", "ê" + "a" * 69, "UCS-2", 70, 1),
    ("ç forces UCS-2, 71", "ç" + "a" * 70, "UCS-2", 71, 2),
    ("UCS-2 67*3", "Fenêtre " + "a" * 193, "UCS-2", 201, 3),
    ("UCS-2 67*3+1", "Fenêtre " + "a" * 194, "UCS-2", 202, 4),
    ("â î ô û ë ï each force UCS-2", "âîôûëï", "UCS-2", 6, 1),
    ("Arabic 70", ALEF * 70, "UCS-2", 70, 1),
    ("Arabic 71", ALEF * 71, "UCS-2", 71, 2),
    ("emoji counts 2", EMOJI * 35, "UCS-2", 70, 1),
    ("emoji 36 = 72 units", EMOJI * 36, "UCS-2", 72, 2),
    # 66 units then an emoji: its pair cannot straddle parts 1 and 2, so 134 units need 3.
    ("surrogate pair not split", "ê" * 66 + EMOJI + "a" * 66, "UCS-2", 134, 3),
    ("surrogate pair fills part exactly", "ê" * 65 + EMOJI + "a" * 67, "UCS-2", 134, 2),
    ("€ counts 2", "€", "GSM-7", 2, 1),
    ("every extension char counts 2", "^{}\\[~]|€\f", "GSM-7", 20, 1),
    ("152 plain + € fits one SMS", "a" * 152 + "€", "GSM-7", 154, 1),
    ("159 plain + € overflows", "a" * 159 + "€", "GSM-7", 161, 2),
    # The escape of € would start at septet 153: it moves whole to part 2, so 306 septets need 3.
    ("escape not split", "a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),
    ("escape at part start", "a" * 153 + "€" + "a" * 151, "GSM-7", 306, 2),
]


@pytest.mark.parametrize(
    ("text", "expected_encoding", "units", "count"),
    [case[1:] for case in SEGMENT_CASES],
    ids=[case[0] for case in SEGMENT_CASES],
)
def test_segments(text: str, expected_encoding: str, units: int, count: int) -> None:
    result = segments(text)
    assert (result.encoding, result.units, result.count) == (expected_encoding, units, count)
    assert encoding(text) == expected_encoding


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, SegmentCount("GSM-7", 160, 1, 160)),
        ("a" * 161, SegmentCount("GSM-7", 161, 2, 153)),
        (ALEF * 70, SegmentCount("UCS-2", 70, 1, 70)),
        (ALEF * 71, SegmentCount("UCS-2", 71, 2, 67)),
    ],
)
def test_per_segment_is_the_capacity_used(text: str, expected: SegmentCount) -> None:
    assert segments(text) == expected


@pytest.mark.parametrize(
    "char", ["ê", "â", "î", "ô", "û", "ç", "ë", "ï", "م", "😀", "\x1b", "«", "’", "œ"]
)
def test_outside_gsm_forces_ucs2(char: str) -> None:
    assert encoding(f"Bonjour {char}") == "UCS-2"


def french_prompt(numbers: list[str]) -> str:
    """Stands in for the translated prompt the SMS channel passes."""
    if len(numbers) == 1:
        return f"Répondez {numbers[0]}"
    return f"Répondez {', '.join(numbers[:-1])} ou {numbers[-1]}"


MENU = Reply(
    text="Que voulez-vous faire ?",
    buttons=(
        Button("Mot de passe", "/faq_password_reset"),
        Button("Ateliers", "/workshop_info"),
        Button("Parler à quelqu'un", "/human_handover"),
    ),
)

RENDER_CASES = [
    ("plain text", [Reply("Bonjour !")], ["Bonjour !"]),
    (
        "three buttons",
        [MENU],
        [
            "Que voulez-vous faire ?\n1. Mot de passe\n2. Ateliers\n3. Parler à quelqu'un\n"
            "Répondez 1, 2 ou 3"
        ],
    ),
    (
        "one reply per body, buttons on the reply that has them",
        [Reply("Bonjour !"), MENU],
        [
            "Bonjour !",
            "Que voulez-vous faire ?\n1. Mot de passe\n2. Ateliers\n3. Parler à quelqu'un\n"
            "Répondez 1, 2 ou 3",
        ],
    ),
    (
        "buttons without text",
        [Reply("", (Button("Oui", "/affirm"), Button("Non", "/deny")))],
        ["1. Oui\n2. Non\nRépondez 1 ou 2"],
    ),
    ("empty reply sends nothing", [Reply("  ")], []),
]


@pytest.mark.parametrize(
    ("replies", "expected"),
    [case[1:] for case in RENDER_CASES],
    ids=[case[0] for case in RENDER_CASES],
)
def test_render_sms(replies: list[Reply], expected: list[str]) -> None:
    assert render_sms(replies, choose_prompt=french_prompt, max_segments=2) == expected


URL = "https://educonnect.education.gouv.fr/idp/profile/SAML2/Redirect/SSO?execution=e1s1"
STEPS = Reply(
    text=(
        "Pour activer votre compte ÉduConnect, il vous faut le numéro de téléphone portable "
        "que vous avez donné à l'école au moment de l'inscription de votre enfant. "
        "Si vous avez changé de numéro, demandez au secrétariat de le mettre à jour.\n"
        f"1. Ouvrez la page {URL} dans le navigateur de votre téléphone.\n"
        "2. Choisissez « Je n'ai pas de compte » puis « Responsable d'élève ».\n"
        "3. Indiquez votre nom, votre prénom et votre numéro de portable, puis validez.\n"
        "4. Vous recevez un code par SMS : recopiez-le dans la page pour confirmer.\n"
        "5. Vérifiez l'identité de vos enfants (date de naissance), puis créez votre mot de "
        "passe. Gardez-le bien : il sert aussi pour Pronote et l'ENT du collège.\n"
        "Besoin d'aide ? Un atelier e-parentalité a lieu chaque mardi à la médiathèque."
    ),
    buttons=(
        Button("Ça a marché", "/thanks"),
        Button("Je n'ai pas reçu le code", "/faq_password_reset"),
        Button("Parler à quelqu'un", "/human_handover"),
    ),
)
CHOICES = "1. Ça a marché\n2. Je n'ai pas reçu le code\n3. Parler à quelqu'un\nRépondez 1, 2 ou 3"


@pytest.mark.parametrize("max_segments", [2, 3])
def test_long_answer_is_split_within_limit_url_intact(max_segments: int) -> None:
    assert segments(STEPS.text).count > 3  # the case is really long

    bodies = render_sms([STEPS], choose_prompt=french_prompt, max_segments=max_segments)

    assert len(bodies) > 1
    assert all(segments(body).count <= max_segments for body in bodies)
    assert sum(URL in body for body in bodies) == 1
    assert bodies[-1].endswith(CHOICES)
    assert all(CHOICES not in body and "Répondez" not in body for body in bodies[:-1])
    # Nothing lost or cut inside a word: the words, in order, are the original ones.
    rendered_words = " ".join(bodies).split()
    assert rendered_words == f"{STEPS.text}\n{CHOICES}".split()


def test_split_prefers_line_boundaries() -> None:
    bodies = render_sms([STEPS], choose_prompt=french_prompt, max_segments=2)
    # Step lines are short enough to travel whole: each one starts a line of some body.
    for step in ("1. Ouvrez", "2. Choisissez", "3. Indiquez", "4. Vous recevez", "5. Vérifiez"):
        assert any(line.startswith(step) for body in bodies for line in body.split("\n")), step


def test_question_stays_with_choices_when_last_body_is_full() -> None:
    text = "Une phrase assez longue pour remplir le message. " * 6 + "Que choisissez-vous ?"
    bodies = render_sms([Reply(text, MENU.buttons)], choose_prompt=french_prompt, max_segments=2)
    assert all(segments(body).count <= 2 for body in bodies)
    assert bodies[-1].startswith("Que choisissez-vous ?\n1. Mot de passe")


def test_long_line_is_split_at_sentence_ends() -> None:
    sentence = "Avez-vous reçu la lettre d'activation de l'école ? Gardez-la précieusement ! "
    text = (
        sentence * 4 + "Étape 1. Ouvrez la page du collège, puis cliquez sur Connexion."
    ).strip()
    bodies = render_sms([Reply(text)], choose_prompt=french_prompt, max_segments=2)
    assert len(bodies) > 1
    assert all(segments(body).count <= 2 for body in bodies)
    assert all(body.endswith(("?", "!", ".")) for body in bodies)
    assert any("Étape 1. Ouvrez" in body for body in bodies)


def test_choices_travel_alone_rather_than_after_half_a_sentence() -> None:
    text = "Un atelier e-parentalité a lieu chaque mardi à la médiathèque du quartier. " * 2
    bodies = render_sms(
        [Reply(text.strip(), STEPS.buttons)], choose_prompt=french_prompt, max_segments=2
    )
    assert bodies == [text.strip(), CHOICES]


def test_word_longer_than_a_body_is_cut_as_last_resort() -> None:
    bodies = render_sms([Reply("x" * 400)], choose_prompt=french_prompt, max_segments=1)
    assert all(segments(body).count == 1 for body in bodies)
    assert "".join(bodies) == "x" * 400


def test_arabic_reply_split_in_ucs2_bodies() -> None:
    text = " ".join(["مرحبا بكم في ورشة الآباء."] * 20)
    bodies = render_sms([Reply(text)], choose_prompt=french_prompt, max_segments=1)
    assert len(bodies) > 1
    assert all(segments(body).count == 1 for body in bodies)
    assert " ".join(bodies).split() == text.split()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_segments": 0}, "max_segments"),
        ({"max_segments": 1, "buttons": 12}, "choices"),
    ],
)
def test_render_refuses_impossible_limits(kwargs: dict[str, int], message: str) -> None:
    buttons = tuple(
        Button(f"Une option au titre plutôt long numéro {n}", f"/p{n}")
        for n in range(kwargs.get("buttons", 0))
    )
    with pytest.raises(ValueError, match=message):
        render_sms(
            [Reply("Choisissez", buttons)],
            choose_prompt=french_prompt,
            max_segments=kwargs["max_segments"],
        )


OFFERED = [Button("Oui", "/affirm"), Button("Non", "/deny"), Button("Humain", "/human_handover")]


@pytest.mark.parametrize(
    ("text", "payload"),
    [
        ("1", "/affirm"),
        ("2", "/deny"),
        ("2.", "/deny"),
        (" 2 ", "/deny"),
        ("2)", "/deny"),
        ("2 .", "/deny"),
        ("\t3\n", "/human_handover"),
        ("02", "/deny"),
        ("２", "/deny"),  # full-width digit, as Japanese/Chinese keyboards send
        ("٢", "/deny"),  # Arabic-Indic digit
        ("0", None),
        ("4", None),
        ("-1", None),
        ("", None),
        ("  ", None),
        ("2.5", None),
        ("2 3", None),
        ("deux", None),
        ("2 svp", None),
        ("1234", None),
        ("(2)", None),
    ],
)
def test_choice_payload(text: str, payload: str | None) -> None:
    assert choice_payload(text, OFFERED) == payload


def test_choice_payload_with_nothing_offered() -> None:
    assert choice_payload("1", []) is None
