"""The embedded NLU on the held-out split, entities, language detection and caching."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain import load_domain
from bot.nlu import entities
from bot.nlu.data import load_examples
from bot.nlu.embedded import load_or_train
from bot.nlu.evaluate import evaluate
from bot.text import clean, fold
from liaison.app import Runtime
from liaison.settings import ROOT, SUPPORTED_LANGUAGES

TESTS = ROOT / "bot" / "data" / "tests"
TRAIN = ROOT / "bot" / "data" / "nlu"


async def test_macro_f1_on_held_out_split(runtime: Runtime) -> None:
    result = await evaluate(runtime.nlu, load_examples(TESTS))
    print(result.report())
    assert result.macro_f1 >= 0.90
    for language, accuracy in result.per_language.items():
        assert accuracy >= 0.80, language


def test_held_out_split_is_big_enough_and_unseen() -> None:
    test_examples = load_examples(TESTS)
    intents = load_domain().intents
    for intent in intents:
        mine = [e for e in test_examples if e.intent == intent]
        assert len(mine) >= 15, intent
        assert len([e for e in mine if e.language != "fr"]) >= 5, intent
    trained = {fold(e.text, expand=False) for e in load_examples(TRAIN)}
    leaked = [e.text for e in test_examples if fold(e.text, expand=False) in trained]
    assert leaked == []


def test_every_intent_has_training_data_in_every_language() -> None:
    examples = load_examples(TRAIN)
    intents = load_domain().intents
    for language in SUPPORTED_LANGUAGES:
        present = {e.intent for e in examples if e.language == language}
        assert set(intents) <= present, language


@pytest.mark.parametrize(
    ("message", "entity", "value"),
    [
        ("mon mdp pronote", "tool", "Pronote"),
        ("educonect marche pas", "tool", "ÉduConnect"),
        ("je vais sur l'ENT", "tool", "ENT"),
        ("ecole directe", "tool", "École Directe"),
        ("connexion avec France Connect", "tool", "FranceConnect"),
        ("parlez en arabe", "language", "ar"),
        ("Türkçe lütfen", "language", "tr"),
        ("بالعربية من فضلك", "language", "ar"),
        ("english please", "language", "en"),
        ("2", "number", "2"),
        ("deux", "number", "2"),
    ],
)
def test_entities(message: str, entity: str, value: str) -> None:
    found = [(e.entity, e.value) for e in entities.extract(message)]
    assert (entity, value) in found


def test_entity_positions_point_into_the_original_text() -> None:
    message = "J'ai oublié mon code Pronote"
    (tool,) = [e for e in entities.extract(message) if e.entity == "tool"]
    assert message[tool.start : tool.end] == "Pronote"


def test_no_false_tool_in_plain_words() -> None:
    assert [e for e in entities.extract("je voudrais un rendez-vous") if e.entity == "tool"] == []


@pytest.mark.parametrize(
    ("message", "language"),
    [
        ("Bonjour, comment je peux voir les notes de mon fils ?", "fr"),
        ("Hello, how can I see my daughter's grades?", "en"),
        ("كيف يمكنني رؤية نقاط ابني", "ar"),
        ("Merhaba, oğlumun notlarını nasıl görebilirim?", "tr"),
        ("Olá, como posso ver as notas do meu filho?", "pt"),
        ("Hola, ¿cómo puedo ver las notas de mi hijo?", "es"),
    ],
)
def test_language_of_full_sentences(runtime: Runtime, message: str, language: str) -> None:
    detected, confidence = runtime.nlu.detect_language(message)
    assert detected == language and confidence >= 0.85


@pytest.mark.parametrize("message", ["ok", "bjr", "1", "merci"])
def test_short_messages_are_not_confident(runtime: Runtime, message: str) -> None:
    _, confidence = runtime.nlu.detect_language(message)
    assert confidence < 0.85


def test_model_is_cached_by_data_hash(tmp_path: Path) -> None:
    data = tmp_path / "nlu"
    data.mkdir()
    (data / "fr.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - bonjour\n    - salut\n'
        "- intent: thanks\n  examples: |\n    - merci\n    - merci beaucoup\n",
        encoding="utf-8",
    )
    cache = tmp_path / "models"
    first = load_or_train(data, cache)
    second = load_or_train(data, cache)
    assert first.model.fingerprint == second.model.fingerprint
    assert len(list(cache.glob("nlu-*.pickle"))) == 1
    (data / "fr.yml").write_text((data / "fr.yml").read_text() + "    - merci bien\n")
    third = load_or_train(data, cache)
    assert third.model.fingerprint != first.model.fingerprint
    assert len(list(cache.glob("nlu-*.pickle"))) == 1


def test_corrupt_cache_is_retrained(tmp_path: Path) -> None:
    engine = load_or_train(TRAIN, tmp_path)
    (cached,) = tmp_path.glob("nlu-*.pickle")
    cached.write_bytes(b"not a pickle")
    again = load_or_train(TRAIN, tmp_path)
    assert again.model.fingerprint == engine.model.fingerprint


def test_malformed_training_file_names_the_file(tmp_path: Path) -> None:
    from liaison.errors import TrainingDataError

    bad = tmp_path / "fr.yml"
    bad.write_text("nlu: [oops", encoding="utf-8")
    with pytest.raises(TrainingDataError, match=r"fr\.yml"):
        load_examples(bad)


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("  bonjour  ", "bonjour"),
        ("a\x00b\x1bc", "abc"),
        ("l\u202eigne", "ligne"),
        ("un\r\ndeux", "un\ndeux"),
        ("a    b", "a b"),
    ],
)
def test_clean(raw: str, cleaned: str) -> None:
    assert clean(raw) == cleaned


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("ÉduConnect", "educonnect"),
        ("mdp", "mdp mot de passe"),
        ("Şifremi UNUTTUM", "sifremi unuttum"),
        ("أريد", "اريد"),
        ("merciiiii", "mercii"),
        ("l'ENT", "l ent"),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


@pytest.mark.parametrize(
    "message", ["mot de passe oublié", "كيف أرى الواجبات", "ok", "", "zzzz", "Pronote şifre"]
)
def test_fast_scorer_matches_scikit_learn(runtime: Runtime, message: str) -> None:
    import numpy as np

    from bot.text import fold as fold_text

    model = runtime.nlu.model
    folded = fold_text(message)
    expected = model.intents.predict_proba([folded])[0]
    assert np.allclose(runtime.nlu._intents.probabilities(folded), expected, atol=1e-9)
    expected_language = model.languages.predict_proba([message.lower()])[0]
    assert np.allclose(
        runtime.nlu._languages.probabilities(message.lower()), expected_language, atol=1e-9
    )
