"""Class probabilities of a fitted TF-IDF + linear pipeline for one message, fast.

scikit-learn's `predict_proba` spends ~2.6 ms on one message validating input and building
sparse matrices. `LinearScorer` does the same arithmetic (n-gram counts, sublinear tf, idf,
l2 norm per vectorizer, `weights @ x + bias`, softmax) in plain Python over the few dozen
features a message has, with numpy only for the products with the weight matrix.

A "char_wb" vectorizer (a hundred n-grams per sentence) pads each whitespace-separated word and
slices it on its own, so a word's n-grams never depend on its neighbours: `_CharWbPart` sums
each distinct word's `idf * weights` rows once, and a message then costs one row per word plus
one per n-gram repeated in it, instead of one per n-gram, each read from a different place of a
10 MB matrix. The word and "char_wb" parts reproduce scikit-learn's analyzers for the
configurations `_plain` accepts; any other uses the vectorizer's own analyzer.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from itertools import chain
from typing import NamedTuple

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

# Distinct words whose sums a "char_wb" part remembers (under 1 kB each: the rows of the
# word's n-grams and one weight per class); the memo is emptied when full.
WORD_MEMO_SIZE = 10_000


class _Terms(NamedTuple):
    """One vectorizer's share of `weights @ x` before its l2 normalisation: `coefficients`
    times `weights[rows]`, plus `vectors` (sums of such terms), and the squared norm."""

    rows: list[int]
    coefficients: list[float]
    vectors: list[np.ndarray]
    square: float


class _Word(NamedTuple):
    rows: tuple[int, ...]  # its n-grams' rows, once per occurrence in the word
    vector: np.ndarray  # sum of idf[row] * weights[row] over `rows`
    square: float  # sum of idf[row] ** 2 over `rows`


class _Model(NamedTuple):
    """What the parts share: idf and weight rows of the stacked vocabularies."""

    idf: list[float]  # a list: indexing it from Python is several times cheaper than an array
    weights: np.ndarray  # (features, classes)


def _plain(vectorizer: TfidfVectorizer) -> bool:
    """True when the analyzer only lower-cases (or not), tokenizes and slices n-grams: no
    custom callables, accent stripping, stop words or file input to reproduce."""
    return (
        vectorizer.input == "content"
        and vectorizer.preprocessor is None
        and vectorizer.tokenizer is None
        and not vectorizer.strip_accents
        and vectorizer.stop_words is None
    )


def _known(rows: dict[str, int], grams: Iterable[str]) -> list[int]:
    return [row for row in map(rows.get, grams) if row is not None]


class _Part:
    """One vectorizer: its n-grams found by `grams` (the analyzer's output), one term each."""

    def __init__(self, vectorizer: TfidfVectorizer, offset: int, model: _Model) -> None:
        vocabulary: dict[str, int] = vectorizer.vocabulary_
        self._rows = {gram: index + offset for gram, index in vocabulary.items()}
        self._sublinear = bool(vectorizer.sublinear_tf)
        self._model = model
        self._analyzer: Callable[[str], list[str]] = vectorizer.build_analyzer()

    def grams(self, text: str) -> list[str]:
        return self._analyzer(text)

    def tf(self, count: int) -> float:
        return 1.0 + math.log(count) if self._sublinear else float(count)

    def __call__(self, text: str) -> _Terms:
        idf = self._model.idf
        counts = Counter(_known(self._rows, self.grams(text)))
        coefficients = [
            idf[row] if count == 1 else self.tf(count) * idf[row] for row, count in counts.items()
        ]
        return _Terms(list(counts), coefficients, [], math.fsum(c * c for c in coefficients))


class _WordPart(_Part):
    """A "word" vectorizer: the token pattern's matches in the (lower-cased) text and their
    n-grams joined by single spaces, as scikit-learn's analyzer, without its call layers."""

    def __init__(self, vectorizer: TfidfVectorizer, offset: int, model: _Model) -> None:
        super().__init__(vectorizer, offset, model)
        self._tokens = re.compile(vectorizer.token_pattern).findall
        self._lowercase = bool(vectorizer.lowercase)
        self._sizes = range(vectorizer.ngram_range[0], vectorizer.ngram_range[1] + 1)

    def grams(self, text: str) -> list[str]:
        words: list[str] = self._tokens(text.lower() if self._lowercase else text)
        found: list[str] = []
        for n in self._sizes:
            found += (" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
        return found


class _CharWbPart(_Part):
    """A "char_wb" vectorizer: scikit-learn lower-cases the text, splits it on whitespace,
    pads each word with one space on both sides and takes its n-grams, an n-gram longer than
    the padded word being the padded word itself, once. A message's terms are the sums of its
    words (`_Word`), corrected for the n-grams occurring more than once: the sums count them
    once per occurrence, scikit-learn by their (sublinear) tf."""

    def __init__(self, vectorizer: TfidfVectorizer, offset: int, model: _Model) -> None:
        super().__init__(vectorizer, offset, model)
        self._lowercase = bool(vectorizer.lowercase)
        self._sizes = range(vectorizer.ngram_range[0], vectorizer.ngram_range[1] + 1)
        self._words: dict[str, _Word] = {}

    def __call__(self, text: str) -> _Terms:
        words = [self._word(w) for w in (text.lower() if self._lowercase else text).split()]
        words = [word for word in words if word.rows]
        counts = Counter(chain.from_iterable(word.rows for word in words))
        idf = self._model.idf
        rows: list[int] = []
        coefficients: list[float] = []
        squares = [word.square for word in words]
        for row, count in [item for item in counts.items() if item[1] > 1]:
            tf = self.tf(count)
            rows.append(row)
            coefficients.append((tf - count) * idf[row])
            squares.append((tf * tf - count) * idf[row] ** 2)
        return _Terms(rows, coefficients, [word.vector for word in words], math.fsum(squares))

    def _word(self, word: str) -> _Word:
        found = self._words.get(word)
        if found is None:
            padded = f" {word} "
            length = len(padded)
            grams: list[str] = []
            for n in self._sizes:
                grams += (padded[start : start + n] for start in range(max(1, length - n + 1)))
                if length <= n:
                    break
            rows = _known(self._rows, grams)
            idf = [self._model.idf[row] for row in rows]
            vector = np.dot(idf, self._model.weights.take(rows, axis=0))
            found = _Word(tuple(rows), vector, math.fsum(i * i for i in idf))
            if len(self._words) >= WORD_MEMO_SIZE:
                self._words.clear()
            self._words[word] = found
        return found


def _part(vectorizer: TfidfVectorizer, offset: int, model: _Model) -> _Part:
    if _plain(vectorizer) and vectorizer.analyzer == "char_wb":
        return _CharWbPart(vectorizer, offset, model)
    if _plain(vectorizer) and vectorizer.analyzer == "word":
        return _WordPart(vectorizer, offset, model)
    return _Part(vectorizer, offset, model)


class LinearScorer:
    """Softmax of `weights @ x + bias`, where `x` stacks the vectorizers' l2-normalised TF-IDF
    vectors of one text: `predict_proba` of a FeatureUnion + LogisticRegression pipeline, or
    of TF-IDF + MultinomialNB (whose joint log-likelihood is linear in the features)."""

    def __init__(
        self, vectorizers: Sequence[TfidfVectorizer], weights: np.ndarray, bias: np.ndarray
    ) -> None:
        model = _Model(
            np.concatenate([v.idf_ for v in vectorizers]).tolist(),
            np.ascontiguousarray(weights.T),
        )
        self._parts: list[_Part] = []
        offset = 0
        for vectorizer in vectorizers:
            if vectorizer.norm != "l2" or not vectorizer.use_idf or vectorizer.binary:
                raise ValueError("LinearScorer needs l2-normalised TF-IDF counts")
            self._parts.append(_part(vectorizer, offset, model))
            offset += len(vectorizer.vocabulary_)
        self._weights = model.weights
        self._bias = bias

    def probabilities(self, text: str) -> list[float]:
        """The class probabilities, in the order of the classifier's classes. The softmax is
        computed in Python: numpy's per-call cost, and above all its reductions' code
        evicting everything else from the CPU's instruction cache, exceed the arithmetic on
        a few dozen classes."""
        rows: list[int] = []
        values: list[float] = []
        vectors: list[np.ndarray] = []
        scales: list[float] = []
        for part in self._parts:
            terms = part(text)
            if terms.square > 0.0:
                scale = 1.0 / math.sqrt(terms.square)
                rows += terms.rows
                values += [c * scale for c in terms.coefficients]
                vectors += terms.vectors
                scales += [scale] * len(terms.vectors)
        logits = self._bias
        if rows:
            logits = logits + np.dot(values, self._weights.take(rows, axis=0))
        if vectors:
            logits = logits + np.dot(scales, vectors)
        scores: list[float] = logits.tolist()
        top = max(scores)
        exps = [math.exp(score - top) for score in scores]
        total = math.fsum(exps)
        return [e / total for e in exps]
