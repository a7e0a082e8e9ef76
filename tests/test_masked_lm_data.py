import numpy as np
import pytest
from scipy import stats
from text_data_arrays import PYDOC_500

from kerastune_lab.config import load_experiment
from kerastune_lab.data.masked_lm_data import (
    MaskedChunks,
    group_into_chunks,
    load_masked_lm_data,
)
from kerastune_lab.data.masking import draw_masks
from kerastune_lab.data.no_skill_loss import (
    context_free_masked_lm_loss,
    no_skill_loss,
)
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
    # Every row predicts round(15% of 128) = 19 of its tokens.
    assert used.sum(axis=1).tolist() == [19] * 3000
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
    chunks[1, 1:3] = [7, 8]  # 2 maskable -> 2 of 3 slots
    _, _, labels, weight = draw_masks(
        chunks, np.random.default_rng(0), 0.15, SPECIAL, MASK_ID, 50
    )
    assert weight.shape == (2, 3)
    assert weight.tolist() == [[1, 1, 1], [1, 1, 0]]
    assert sorted(labels[1, :2].tolist()) == [7, 8]


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
    config = load_experiment(None, PYDOC_500)
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
    config = load_experiment(None, [*PYDOC_500, "data.split_seed=7"])
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


def test_context_free_loss_is_the_bayes_posterior_of_the_shown_token():
    """Against the joint table P(true y, shown s) built slot by slot from
    the 80/10/10 channel: P(s | y) = 0.8 [s = MASK] + 0.1 / R [s not
    special] + 0.1 [s = y]."""
    rng = np.random.default_rng(3)
    vocab = 12
    train = rng.choice(
        np.arange(5, vocab),
        size=400,
        p=np.linspace(1, 3, vocab - 5) / np.linspace(1, 3, vocab - 5).sum(),
    )
    chunks = rng.integers(5, vocab, size=(200, 20))
    chunks[:, 0] = 2
    ids, positions, labels, weight = draw_masks(
        chunks, rng, 0.15, SPECIAL, MASK_ID, vocab
    )
    shown = np.take_along_axis(ids, positions, axis=1)
    counts = np.bincount(train, minlength=vocab) + 1.0
    unigram = counts / counts.sum()
    random_ids = [t for t in range(vocab) if t not in SPECIAL]
    channel = np.zeros((vocab, vocab))
    channel[:, MASK_ID] = 0.8
    channel[:, random_ids] += 0.1 / len(random_ids)
    channel[random_ids, random_ids] += 0.1  # true tokens are never special
    losses = []
    for y, s in zip(labels[weight > 0], shown[weight > 0]):
        joint = unigram * channel[:, s]
        losses.append(-np.log(joint[y] / joint.sum()))
    expected = float(np.mean(losses))
    got = context_free_masked_lm_loss(
        train, labels, shown, vocab, MASK_ID, len(random_ids), weight
    )
    assert got == pytest.approx(expected, rel=1e-9)
    # Reading the shown token beats the unigram alone.
    assert got < no_skill_loss(train, labels, vocab, weight) - 0.05


def test_eval_loss_and_both_baselines_average_over_real_slots():
    """Keras's val loss of the masked LM equals the mean cross-entropy
    over the real masked slots of the eval split, computed in NumPy from
    the model's own logits; the baselines are figures of the same
    slots."""
    import keras

    from kerastune_lab.training.task_setup import (
        compile_model,
        prepare_task,
    )

    config = load_experiment(
        None,
        [
            'model.name="bert_mlm"',
            "model.vocabulary_size=300",
            "data.max_chunks=60",
            "data.chunk_size=32",
            "train.batch_size=7",
        ],
    )
    task = prepare_task(config)
    compile_model(task, config)
    val = task.fit_data["validation_data"]
    keras_loss = task.model.evaluate(val, verbose=0, return_dict=True)["loss"]
    total, slots = 0.0, 0.0
    for i in range(len(val)):
        inputs, labels, weight = val[i]
        logits = keras.ops.convert_to_numpy(task.model(inputs)).astype(float)
        logits -= logits.max(axis=-1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        nll = -np.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]
        total += (nll * weight).sum()
        slots += weight.sum()
    assert keras_loss == pytest.approx(total / slots, rel=1e-5)
    assert task.no_skill_eval_loss < task.baselines["unigram_eval_loss"]


def test_the_token_cache_is_reused_and_keyed_by_the_tokenisation(
    tmp_path, monkeypatch
):
    from kerastune_lab.data import masked_lm_data
    from kerastune_lab.data.word_piece_tokenizer import WordPieceTokenizer

    monkeypatch.setenv("KERASTUNE_LAB_CACHE_DIR", str(tmp_path))
    config = load_experiment(
        None,
        ['model.name="bert_mlm"', "model.vocabulary_size=400"],
    )
    texts = masked_lm_data.load_corpus(config.data)[:30]
    first, first_ids = masked_lm_data.tokenize_corpus(texts, "", 400)
    assert len(list(tmp_path.glob("corpus-*.npz"))) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("the cached tokenizer was not used")

    monkeypatch.setattr(WordPieceTokenizer, "train", no_training)
    again, again_ids = masked_lm_data.tokenize_corpus(texts, "", 400)
    assert again.get_vocabulary() == first.get_vocabulary()
    for a, b in zip(first_ids, again_ids):
        np.testing.assert_array_equal(a, b)
    # Another tokenisation is another key: it trains, and caches anew.
    monkeypatch.setattr(masked_lm_data, "TOKENIZATION", "another")
    with pytest.raises(AssertionError, match="cached tokenizer"):
        masked_lm_data.tokenize_corpus(texts, "", 400)
