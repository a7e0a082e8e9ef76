import numpy as np
import pytest
from scipy import stats

from kerastune_lab.config import load_experiment
from kerastune_lab.data.masked_lm_data import (
    MaskedChunks,
    group_into_chunks,
    load_masked_lm_data,
)
from kerastune_lab.data.masking import draw_masks
from kerastune_lab.errors import UserError

SPECIAL = {0, 1, 2, 3, 4}
MASK_ID = 4


def test_masking_rate_and_80_10_10_split_statistically():
    rng = np.random.default_rng(0)
    chunks = rng.integers(5, 3000, size=(3000, 128))
    chunks[:, 0] = 2
    chunks[::4, 77] = 3
    ids, positions, labels, weight = draw_masks(
        chunks, np.random.default_rng(1), 0.15, SPECIAL, MASK_ID, 3000
    )
    used = weight > 0
    maskable = (~np.isin(chunks, list(SPECIAL))).sum()
    # Exactly round(15%) of each row's maskable tokens are predicted.
    assert used.sum() / maskable == pytest.approx(0.15, abs=0.002)
    assert not np.isin(labels[used], list(SPECIAL)).any()
    at = np.take_along_axis(ids, positions, axis=1)[used]
    orig = labels[used]
    n = used.sum()
    masked = np.sum(at == MASK_ID)
    kept = np.sum(at == orig)
    randomised = n - masked - kept
    # Chi-square goodness of fit to 80/10/10 (a random draw equal to the
    # original token, p = 1/2995, counts as kept).
    p_same = 1 / 2995
    expected = n * np.array([0.8, 0.1 + 0.1 * p_same, 0.1 * (1 - p_same)])
    assert stats.chisquare([masked, kept, randomised], expected).pvalue > 1e-3
    # Nothing outside the chosen positions changes.
    outside = ids.copy()
    np.put_along_axis(
        outside,
        positions,
        np.take_along_axis(chunks, positions, axis=1),
        axis=1,
    )
    np.testing.assert_array_equal(outside, chunks)


def test_short_rows_get_zero_weight_slots():
    chunks = np.full((2, 20), 2)
    chunks[0, 1:] = np.arange(5, 24)  # 19 maskable -> 3 of 3 slots
    chunks[1, 1:4] = [7, 8, 9]  # 3 maskable -> 0 (round(0.45)) used
    _, _, _, weight = draw_masks(
        chunks, np.random.default_rng(0), 0.15, SPECIAL, MASK_ID, 50
    )
    assert weight.shape == (2, 3)
    assert weight[0].tolist() == [1, 1, 1] and weight[1].sum() == 0


def test_training_masks_change_every_epoch_eval_masks_do_not():
    chunks = np.random.default_rng(0).integers(5, 100, size=(40, 16))
    mask = {
        "mask_rate": 0.15,
        "special_ids": SPECIAL,
        "mask_id": MASK_ID,
        "vocab_size": 100,
    }
    train = MaskedChunks(chunks, 8, mask, seed=0, redraw=True)
    evaluation = MaskedChunks(chunks, 8, mask, seed=0, redraw=False)
    first_train = train[0][0]["mask_positions"].copy()
    first_eval = evaluation[0][0]["mask_positions"].copy()
    train.on_epoch_end()
    evaluation.on_epoch_end()
    assert not np.array_equal(first_train, train[0][0]["mask_positions"])
    np.testing.assert_array_equal(
        first_eval, evaluation[0][0]["mask_positions"]
    )
    assert len(train) == 5


def test_chunks_concatenate_documents_with_cls_and_sep():
    chunks = group_into_chunks(
        [np.array([10, 11]), np.array([12, 13, 14])], 4, cls_id=2, sep_id=3
    )
    assert chunks.tolist() == [[2, 10, 11, 3], [2, 12, 13, 14]]


def test_embedded_corpus_tokenizes_into_split_chunks():
    config = load_experiment(
        None,
        [
            'model.name="bert_mlm"',
            "model.vocabulary_size=500",
            "data.max_chunks=50",
        ],
    )
    data = load_masked_lm_data(config.data, config.model.params, 8, seed=0)
    summary = data.summary()
    assert (
        summary["train_chunks"]
        + summary["val_chunks"]
        + summary["test_chunks"]
        == 50
    )
    assert summary["chunk_size"] == 128
    assert data.vocabulary_size <= 500
    inputs, labels, weight = data.train[0]
    assert inputs["token_ids"].shape == (8, 128)
    assert labels.shape == weight.shape == inputs["mask_positions"].shape


def test_text_path_errors(tmp_path):
    config = load_experiment(
        None,
        [
            'model.name="bert_mlm"',
            'data.name="text"',
            f'data.path="{tmp_path}"',
        ],
    )
    with pytest.raises(UserError, match=r"no \.txt files"):
        load_masked_lm_data(config.data, config.model.params, 8, seed=0)


def test_a_fixed_split_seed_gives_every_training_seed_the_same_eval_set():
    config = load_experiment(
        None,
        [
            'model.name="bert_mlm"',
            "model.vocabulary_size=500",
            "data.max_chunks=50",
            "data.split_seed=7",
        ],
    )
    a, b = (
        load_masked_lm_data(config.data, config.model.params, 8, seed=s)
        for s in (1, 2)
    )
    np.testing.assert_array_equal(a.val.chunks, b.val.chunks)
    np.testing.assert_array_equal(
        a.val[0][0]["token_ids"], b.val[0][0]["token_ids"]
    )
    # Training masks still follow the training seed.
    assert not np.array_equal(
        a.train[0][0]["token_ids"], b.train[0][0]["token_ids"]
    )
