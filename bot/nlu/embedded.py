"""The embedded NLU engine: scikit-learn models trained in seconds from `bot/data/nlu/`.

* Intents: a logistic regression over word (1–2) and character (2–5, word-bounded) n-grams of
  the folded text. Character n-grams absorb typos, missing accents and SMS spelling across six
  languages and two scripts; the softmax gives a usable confidence for the fallback.
* Language: a naive Bayes over character (1–4) n-grams of the lower-cased text (accents kept:
  ç, ã, ñ, ş tell languages apart), trained on the same six-language data. Arabic script is
  decided by the script itself. Short messages get a low confidence so the contact's sticky
  language wins.
* Entities: `bot.nlu.entities` (lookup and fuzzy matching).

Trained models are cached under `var/models/` by a hash of the training data and of this
module's version, so a second start loads in well under a second.
"""

from __future__ import annotations

import logging
import pickle
import time
from dataclasses import dataclass
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import FeatureUnion, Pipeline

from bot.nlu import entities
from bot.nlu.data import Example, fingerprint, load_examples
from bot.nlu.result import ParseResult
from bot.nlu.scoring import LinearScorer
from bot.text import fold, is_arabic_script, letters
from liaison.errors import NLUError

log = logging.getLogger(__name__)
MODEL_VERSION = "embedded-4"
RANKING_SIZE = 10


@dataclass
class EmbeddedModel:
    """The trained parts; picklable."""

    intents: Pipeline
    languages: Pipeline
    language_codes: list[str]
    fingerprint: str
    training_seconds: float


def train(examples: list[Example], *, fingerprint_: str = "") -> EmbeddedModel:
    """Train both classifiers on `examples` (every example needs a language)."""
    if len({e.intent for e in examples}) < 2:
        raise NLUError("training needs at least two intents")
    started = time.perf_counter()
    intents = Pipeline(
        [
            (
                "features",
                FeatureUnion(
                    [
                        ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
                        (
                            "chars",
                            TfidfVectorizer(
                                analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1
                            ),
                        ),
                    ]
                ),
            ),
            ("classifier", LogisticRegression(C=20.0, max_iter=3000)),
        ]
    )
    intents.fit([fold(e.text) for e in examples], [e.intent for e in examples])
    languages = Pipeline(
        [
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, lowercase=True
                ),
            ),
            ("classifier", MultinomialNB(alpha=0.05)),
        ]
    )
    languages.fit([e.text for e in examples], [e.language for e in examples])
    return EmbeddedModel(
        intents=intents,
        languages=languages,
        language_codes=[str(c) for c in languages.classes_],
        fingerprint=fingerprint_,
        training_seconds=time.perf_counter() - started,
    )


def intent_scorer(pipeline: Pipeline) -> LinearScorer:
    union: FeatureUnion = pipeline.named_steps["features"]
    classifier: LogisticRegression = pipeline.named_steps["classifier"]
    return LinearScorer(
        [t for _, t in union.transformer_list], classifier.coef_, classifier.intercept_
    )


def language_scorer(pipeline: Pipeline) -> LinearScorer:
    classifier: MultinomialNB = pipeline.named_steps["classifier"]
    return LinearScorer(
        [pipeline.named_steps["chars"]], classifier.feature_log_prob_, classifier.class_log_prior_
    )


class EmbeddedEngine:
    """`NLUEngine` over an `EmbeddedModel`."""

    name = "embedded"

    def __init__(self, model: EmbeddedModel) -> None:
        self.model = model
        self.intent_names: list[str] = [str(c) for c in model.intents.classes_]
        self._intents = intent_scorer(model.intents)
        self._languages = language_scorer(model.languages)

    async def parse(self, text: str) -> ParseResult:
        return self.parse_sync(text)

    def parse_sync(self, text: str) -> ParseResult:
        folded = fold(text)
        if folded:
            scores = self._intents.probabilities(folded)
            order = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)
            ranking = [(self.intent_names[i], scores[i]) for i in order[:RANKING_SIZE]]
        else:
            ranking = [("out_of_scope", 0.0)]
        language, language_confidence = self.detect_language(text)
        intent, confidence = ranking[0]
        return ParseResult(
            text=text,
            intent=intent,
            confidence=confidence,
            ranking=ranking,
            entities=entities.extract(text),
            language=language,
            language_confidence=language_confidence,
        )

    def detect_language(self, text: str) -> tuple[str, float]:
        """The most likely language and a confidence damped for short messages."""
        count = letters(text)
        if count == 0:
            return "fr", 0.0
        if is_arabic_script(text, letter_count=count) and "ar" in self.model.language_codes:
            return "ar", 0.99
        probabilities = self._languages.probabilities(text.lower())
        best = max(range(len(probabilities)), key=probabilities.__getitem__)
        # Below ~12 letters a character model is guessing ("ok", "bjr"): say so.
        damping = min(1.0, count / 12)
        return self.model.language_codes[best], probabilities[best] * damping


def load_or_train(data_dir: Path, cache_dir: Path) -> EmbeddedEngine:
    """Load the cached model for this training data, or train and cache it."""
    files = sorted(data_dir.glob("*.yml"))
    if not files:
        raise NLUError(f"no training data in {data_dir}")
    key = fingerprint(files, MODEL_VERSION)
    cached = cache_dir / f"nlu-{key}.pickle"
    if cached.exists():
        try:
            with cached.open("rb") as handle:
                model = pickle.load(handle)  # noqa: S301 - our own cache file, written below
            if isinstance(model, EmbeddedModel):
                log.info("NLU model loaded from cache %s", cached.name)
                return EmbeddedEngine(model)
        except Exception:  # a corrupt or incompatible cache is rebuilt, never fatal
            log.warning("NLU cache %s unreadable; retraining", cached.name, exc_info=True)
    model = train(load_examples(data_dir), fingerprint_=key)
    log.info("NLU trained in %.1f s on %d files", model.training_seconds, len(files))
    cache_dir.mkdir(parents=True, exist_ok=True)
    temporary = cached.with_suffix(".tmp")
    with temporary.open("wb") as handle:
        pickle.dump(model, handle)
    temporary.replace(cached)
    for old in cache_dir.glob("nlu-*.pickle"):
        if old != cached:
            old.unlink(missing_ok=True)
    return EmbeddedEngine(model)
