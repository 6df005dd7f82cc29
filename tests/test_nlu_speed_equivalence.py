"""The fast NLU paths give what straightforward implementations give.

`LinearScorer` against scikit-learn's `predict_proba`, `parse_sync` against a reference parse
(predict_proba, the regex letter counts, and the entity lookup as it was before the windows
were prefiltered: one rapidfuzz call per window, `fold` per token), over every training and
held-out message, plus generated ones for the fuzzy entity matching.
"""

from __future__ import annotations

import random
import re
import unicodedata

import numpy as np
import pytest
from rapidfuzz import fuzz, process
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import FeatureUnion, Pipeline

from bot.nlu import entities, scoring
from bot.nlu.data import load_examples
from bot.nlu.embedded import RANKING_SIZE, EmbeddedEngine, intent_scorer, language_scorer
from bot.nlu.result import Entity
from bot.text import SMS_SPELLINGS, fold, is_arabic_script, letters
from liaison.app import Runtime
from liaison.settings import ROOT

EDGE_CASES = ["", " ", "ok", "1", "İSTANBUL ıı", "a_b __", "x\u00a0y\tz\n\nw", "ﬁn ½ ²", "ـــ ً"]
MESSAGES = [
    e.text for folder in ("nlu", "tests") for e in load_examples(ROOT / "bot" / "data" / folder)
] + EDGE_CASES


# --- reference implementations -------------------------------------------------------------

_ARABIC_MARKS = re.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_LETTERS = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"}
)


def reference_fold(text: str, *, expand: bool = True) -> str:
    text = unicodedata.normalize("NFKC", text).replace("İ", "i").lower().replace("ı", "i")
    text = _ARABIC_MARKS.sub("", text).translate(_ARABIC_LETTERS)
    decomposed = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    text = re.sub(r"(.)\1{2,}", r"\1\1", text)
    tokens = re.sub(r"[^\w]+", " ", text.replace("_", " ")).split()
    if expand:
        tokens = [t for token in tokens for t in (token, SMS_SPELLINGS.get(token)) if t]
    return " ".join(tokens)


def reference_letters(text: str) -> int:
    return len(re.findall(r"[^\W\d_]", text))


def reference_arabic(text: str) -> bool:
    total = reference_letters(text)
    arabic = re.findall(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]", text)
    return total > 0 and len(arabic) * 2 > total


def reference_table(
    table: dict[str, tuple[str, ...]],
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Exact forms of the aliases, and the (alias, value) pairs long enough to fuzz."""
    exact: dict[str, str] = {}
    fuzzy: list[tuple[str, str]] = []
    for value, aliases in table.items():
        for alias in aliases:
            folded = reference_fold(alias, expand=False)
            exact[folded] = exact[folded.replace(" ", "")] = value
            if len(folded) >= 6:
                fuzzy.append((folded, value))
    return exact, fuzzy


REFERENCE_TABLES = {
    "tool": reference_table(entities.TOOLS),
    "language": reference_table(entities.LANGUAGES),
}


def reference_lookup(text: str, entity: str) -> list[Entity]:
    tokens = [
        (reference_fold(m.group(), expand=False), m.start(), m.end())
        for m in re.finditer(r"\w+", text)
    ]
    tokens = [t for t in tokens if t[0]]
    exact, fuzzy = REFERENCE_TABLES[entity]
    found: list[Entity] = []
    used: set[int] = set()
    for size in (3, 2, 1):
        for i in range(len(tokens) - size + 1):
            if used & set(range(i, i + size)):
                continue
            window = " ".join(t[0] for t in tokens[i : i + size])
            value = exact.get(window) or exact.get(window.replace(" ", ""))
            score = 100.0
            if value is None and len(window) >= 5:
                near = [(a, v) for a, v in fuzzy if abs(len(a) - len(window)) <= 3]
                match = process.extractOne(
                    window, [a for a, _ in near], scorer=fuzz.ratio, score_cutoff=86
                )
                if match is not None:
                    score, value = float(match[1]), near[match[2]][1]
            if value is not None:
                used.update(range(i, i + size))
                start, end = tokens[i][1], tokens[i + size - 1][2]
                found.append(Entity(entity, value, start, end, score / 100))
    return found


def reference_entities(text: str) -> list[Entity]:
    found = reference_lookup(text, "tool") + reference_lookup(text, "language")
    for match in re.finditer(r"(?<![\w.])(\d{1,3})(?![\w])", text):
        found.append(Entity("number", match.group(1), match.start(1), match.end(1)))
    words = [
        (w, m) for m in re.finditer(r"\w+", text) if (w := reference_fold(m.group(), expand=False))
    ]
    if len(words) == 1 and words[0][0] in entities.NUMBER_WORDS:
        word, match = words[0]
        value = str(entities.NUMBER_WORDS[word])
        found.append(Entity("number", value, match.start(), match.end()))
    return sorted(found, key=lambda e: e.start)


def alias_messages(count: int) -> list[str]:
    """Messages with misspelt aliases among ordinary words: the fuzzy matching's cases."""
    rng = random.Random(7)
    aliases = [a for t in (entities.TOOLS, entities.LANGUAGES) for v in t.values() for a in v]
    words = [w for m in MESSAGES[:3000] for w in m.split()]
    alphabet = "abcdefghijklmnopqrstuvwxyz éèçşı ابتكينو"

    def misspell(alias: str) -> str:
        chars = list(alias)
        for _ in range(rng.randint(0, 3)):
            at = rng.randrange(len(chars))
            if rng.random() < 0.4:
                del chars[at]
            else:
                chars.insert(at, rng.choice(alphabet))
        return "".join(chars)

    messages = []
    for _ in range(count):
        parts = [rng.choice(words) for _ in range(rng.randint(0, 5))]
        for _ in range(rng.randint(1, 2)):
            parts.insert(rng.randint(0, len(parts)), misspell(rng.choice(aliases)))
        messages.append(" ".join(parts))
    return messages


# --- tests ----------------------------------------------------------------------------------


def test_fold_and_letter_counts_match_the_reference() -> None:
    rng = random.Random(3)
    alphabet = "aàéêëïçşğıİÉ_ -'!?.\t\n\u00a0ﬁ½²٣ـًٌَُّٰأإآٱىةؤئابتكيف日本ñã€aaaeee!!\u0301\u200bΣς"
    generated = ["".join(rng.choices(alphabet, k=rng.randint(0, 30))) for _ in range(20_000)]
    for text in MESSAGES + generated:
        assert fold(text) == reference_fold(text), text
        assert fold(text, expand=False) == reference_fold(text, expand=False), text
        assert letters(text) == reference_letters(text), text
        assert is_arabic_script(text) == reference_arabic(text), text


def test_scorers_match_scikit_learn_on_every_message(runtime: Runtime) -> None:
    engine = runtime.nlu
    folded = [fold(m) for m in MESSAGES]
    expected = engine.model.intents.predict_proba(folded)
    got = np.array([engine._intents.probabilities(f) for f in folded])
    assert np.abs(got - expected).max() < 1e-9
    lowered = [m.lower() for m in MESSAGES]
    expected = engine.model.languages.predict_proba(lowered)
    got = np.array([engine._languages.probabilities(m) for m in lowered])
    assert np.abs(got - expected).max() < 1e-9


def test_parse_matches_the_reference_parse(runtime: Runtime) -> None:
    engine = runtime.nlu
    model = engine.model
    folded = [reference_fold(m) for m in MESSAGES]
    intents = model.intents.predict_proba(folded)
    languages = model.languages.predict_proba([m.lower() for m in MESSAGES])
    for i, message in enumerate(MESSAGES):
        parsed = engine.parse_sync(message)
        if folded[i]:
            order = np.argsort(intents[i])[::-1][:RANKING_SIZE]
            assert [name for name, _ in parsed.ranking] == [engine.intent_names[j] for j in order]
            assert np.allclose([p for _, p in parsed.ranking], intents[i][order], atol=1e-9)
        else:
            assert parsed.ranking == [("out_of_scope", 0.0)]
        count = reference_letters(message)
        if count == 0:
            language, confidence = "fr", 0.0
        elif reference_arabic(message):
            language, confidence = "ar", 0.99
        else:
            best = int(np.argmax(languages[i]))
            language = model.language_codes[best]
            confidence = languages[i][best] * min(1.0, count / 12)
        assert parsed.language == language, message
        assert parsed.language_confidence == pytest.approx(confidence, abs=1e-9), message
        assert parsed.entities == reference_entities(message), message


def test_entities_match_the_reference_on_misspelt_aliases() -> None:
    messages = alias_messages(3000)
    found = [entities.extract(m) for m in messages]
    assert found == [reference_entities(m) for m in messages]
    fuzzy = [e for f in found for e in f if e.entity != "number" and e.confidence < 1.0]
    assert len(fuzzy) > 500  # the generated messages do exercise the fuzzy matching


def test_memos_give_the_same_results_when_they_overflow(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scoring, "WORD_MEMO_SIZE", 3)
    monkeypatch.setattr(entities, "_FOLDED_WORDS_SIZE", 3)
    monkeypatch.setattr(entities, "_folded_words", {})
    engine = EmbeddedEngine(runtime.nlu.model)  # new scorers, new memos
    messages = MESSAGES[::40]
    for message in messages * 2:
        assert engine.parse_sync(message) == runtime.nlu.parse_sync(message), message
    assert len(entities._folded_words) <= 3


def test_other_vectorizer_configurations_match_scikit_learn() -> None:
    """Analyzers the scorer does not reproduce (accent stripping, plain "char") go through
    scikit-learn's own; a "word" analyzer with 1-3 grams and no lower-casing, and tf without
    the logarithm, through the reproduced ones."""
    examples = load_examples(ROOT / "bot" / "data" / "nlu")[::3]
    texts, labels = [e.text for e in examples], [e.intent for e in examples]
    union = FeatureUnion(
        [
            ("accents", TfidfVectorizer(analyzer="char_wb", strip_accents="unicode")),
            ("chars", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)),
            ("words", TfidfVectorizer(ngram_range=(1, 3), lowercase=False)),
            ("wb", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3))),
        ]
    )
    intents = Pipeline([("features", union), ("classifier", LogisticRegression(max_iter=300))])
    intents.fit(texts, labels)
    languages = Pipeline(
        [
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), lowercase=False)),
            ("classifier", MultinomialNB()),
        ]
    )
    languages.fit(texts, [e.language for e in examples])
    probe = MESSAGES[1::7] + EDGE_CASES
    for pipeline, scorer in ((intents, intent_scorer), (languages, language_scorer)):
        fast = scorer(pipeline)
        got = np.array([fast.probabilities(m) for m in probe])
        assert np.abs(got - pipeline.predict_proba(probe)).max() < 1e-9
