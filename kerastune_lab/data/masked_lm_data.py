"""Masked-LM data: a corpus tokenised, grouped into chunks, masked.

Tokenisation uses keras-hub's BertTokenizer (TensorFlow text ops, here in
data loading only); everything the model sees is NumPy, so training runs
on any Keras backend. Training masks are redrawn every epoch; evaluation
and test masks are drawn once, so epochs compare on the same predictions.
"""

import dataclasses
import hashlib
import json
import os
import pathlib

import numpy as np

from kerastune_lab.data.epoch_keyed_dataset import EpochKeyedDataset
from kerastune_lab.data.masking import draw_masks
from kerastune_lab.data.splits import stratified_split
from kerastune_lab.data.text_corpus import load_pydoc_corpus, load_text_files
from kerastune_lab.errors import UserError

RESERVED_TOKENS = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"]


def build_tokenizer(texts, preset="", vocabulary_size=8000, lowercase=True):
    """The preset's WordPiece tokenizer, or one computed from `texts`."""
    import keras_hub

    if preset:
        from kerastune_lab.models.bert_masked_lm import load_from_preset

        return load_from_preset(keras_hub.models.BertTokenizer, preset)
    import tensorflow as tf

    # A plain list would be read as file names.
    vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
        tf.data.Dataset.from_tensor_slices(texts),
        vocabulary_size,
        lowercase=lowercase,
        reserved_tokens=RESERVED_TOKENS,
    )
    return keras_hub.models.BertTokenizer(
        vocabulary=vocabulary, lowercase=lowercase
    )


def tokenize_corpus(texts, preset="", vocabulary_size=8000):
    """(tokenizer, one int array of token ids per text).

    Computing a WordPiece vocabulary and tokenising take seconds that are
    the same for every run of a study: where KERASTUNE_LAB_CACHE_DIR is set
    (`compare` sets it to the study's cache/ folder), the vocabulary and
    the token ids are kept there, keyed by the texts and settings.
    """
    cache_dir = os.environ.get("KERASTUNE_LAB_CACHE_DIR")
    if not cache_dir:
        tokenizer = build_tokenizer(texts, preset, vocabulary_size)
        return tokenizer, [np.asarray(tokenizer(t)) for t in texts]
    key = hashlib.sha256(
        json.dumps([preset, vocabulary_size, texts]).encode()
    ).hexdigest()[:16]
    path = pathlib.Path(cache_dir) / f"corpus-{key}.npz"
    if path.is_file():
        cached = np.load(path)
        if preset:
            tokenizer = build_tokenizer(texts, preset, vocabulary_size)
        else:
            import keras_hub

            tokenizer = keras_hub.models.BertTokenizer(
                vocabulary=[str(t) for t in cached["vocabulary"]],
                lowercase=True,
            )
        return tokenizer, np.split(cached["ids"], cached["offsets"][1:-1])
    tokenizer = build_tokenizer(texts, preset, vocabulary_size)
    token_lists = [np.asarray(tokenizer(t), dtype="int32") for t in texts]
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: runs of a study start side by side.
    tmp = path.with_name(f".{path.stem}-{os.getpid()}.npz")
    np.savez(
        tmp,
        vocabulary=np.asarray(tokenizer.get_vocabulary()),
        ids=np.concatenate(token_lists),
        offsets=np.cumsum([0] + [len(t) for t in token_lists]),
    )
    os.replace(tmp, path)
    return tokenizer, token_lists


def group_into_chunks(token_lists, chunk_size, cls_id, sep_id):
    """[CLS] doc [SEP] [CLS] doc [SEP] ... cut into rows of chunk_size."""
    stream = np.concatenate(
        [np.concatenate([[cls_id], ids, [sep_id]]) for ids in token_lists]
    ).astype("int32")
    rows = len(stream) // chunk_size
    return stream[: rows * chunk_size].reshape(rows, chunk_size)


class MaskedChunks(EpochKeyedDataset):
    """Batches of masked chunks: ({token_ids, segment_ids, padding_mask,
    mask_positions}, labels, sample_weight).

    Epoch k's row order and masks depend on (seed, k) alone, so a resumed
    run sees the masks the interrupted one would have seen.

    Args:
        chunks: int array [n, chunk_size].
        batch_size: Rows per batch.
        mask: Dict with mask_rate, special_ids, mask_id, vocab_size.
        seed: Seed of the masks (and of the row order when `redraw`).
        redraw: New masks and a new row order every epoch (training);
            otherwise one fixed mask (evaluation).
    """

    def __init__(self, chunks, batch_size, mask, seed, redraw):
        self.chunks = chunks
        self.mask = mask
        super().__init__(len(chunks), batch_size, seed, redraw)

    def prepare_epoch(self, rng):
        order = (
            rng.permutation(self.num_rows)
            if self.redraw
            else np.arange(self.num_rows)
        )
        self.arrays = draw_masks(self.chunks[order], rng, **self.mask)

    def batch(self, rows):
        ids, positions, labels, weight = (a[rows] for a in self.arrays)
        inputs = {
            "token_ids": ids,
            "segment_ids": np.zeros_like(ids),
            "padding_mask": np.ones_like(ids),
            "mask_positions": positions,
        }
        return inputs, labels, weight


@dataclasses.dataclass
class MaskedLMData:
    train: MaskedChunks
    val: MaskedChunks
    test: MaskedChunks
    vocabulary_size: int
    tokenizer: object

    def _train_tokens(self):
        """The training chunks' maskable tokens (the unigram's counts)."""
        tokens = self.train.chunks.ravel()
        return tokens[~np.isin(tokens, sorted(self.train.mask["special_ids"]))]

    def no_skill_eval_loss(self):
        """The eval loss of the best predictor that uses no context: the
        posterior of each masked slot's token given the token shown there
        (`context_free_masked_lm_loss`), over the real eval slots."""
        from kerastune_lab.data.no_skill_loss import (
            context_free_masked_lm_loss,
        )

        ids, positions, labels, weights = self.val.arrays
        mask = self.train.mask
        return context_free_masked_lm_loss(
            self._train_tokens(),
            labels,
            np.take_along_axis(ids, positions, axis=1),
            self.vocabulary_size,
            mask["mask_id"],
            mask["vocab_size"] - len(mask["special_ids"]),
            weights,
        )

    def unigram_eval_loss(self):
        """Cross-entropy of the training chunks' unigram distribution (of
        maskable tokens) at the evaluation split's real masked slots: a
        predictor that ignores even the token shown at the slot."""
        from kerastune_lab.data.no_skill_loss import no_skill_loss

        _, _, labels, weights = self.val.arrays
        return no_skill_loss(
            self._train_tokens(), labels, self.vocabulary_size, weights
        )

    def summary(self):
        return {
            "train_chunks": len(self.train.chunks),
            "val_chunks": len(self.val.chunks),
            "test_chunks": len(self.test.chunks),
            "chunk_size": int(self.train.chunks.shape[1]),
            "vocabulary_size": int(self.vocabulary_size),
        }


def load_masked_lm_data(data_config, model_params, batch_size, seed):
    """Corpus -> tokenizer -> chunks -> seeded train/val/test MaskedChunks.

    Chunk selection, split and the fixed eval/test masks follow the data
    seed (data.split_seed, else `seed`); training masks follow `seed`.
    """
    data_seed = data_config.data_seed(seed)
    if data_config.name == "text":
        if not data_config.path:
            raise UserError(
                "data.name = 'text' needs data.path: a .txt file or a folder"
                ' of .txt files (--set data.path="corpus/").'
            )
        texts = load_text_files(data_config.path)
    else:
        texts = load_pydoc_corpus()
    tokenizer, token_lists = tokenize_corpus(
        texts, model_params.preset, model_params.vocabulary_size
    )
    vocab = tokenizer.vocabulary_size()
    special = {
        tokenizer.token_to_id(t)
        for t in RESERVED_TOKENS
        if t in tokenizer.get_vocabulary()
    }
    chunks = group_into_chunks(
        token_lists,
        data_config.chunk_size,
        tokenizer.token_to_id("[CLS]"),
        tokenizer.token_to_id("[SEP]"),
    )
    if data_config.max_chunks:
        rng = np.random.default_rng(data_seed)
        chunks = chunks[
            np.sort(rng.permutation(len(chunks))[: data_config.max_chunks])
        ]
    if len(chunks) < 10:
        raise UserError(
            f"The corpus gives only {len(chunks)} chunks of "
            f"{data_config.chunk_size} tokens; add text or lower "
            "data.chunk_size."
        )
    # Chunks have no label: one "class" gives a plain seeded split.
    train, val, test = stratified_split(
        np.zeros(len(chunks)),
        data_config.val_split,
        data_config.test_split,
        data_seed,
    )
    mask = {
        "mask_rate": data_config.mask_rate,
        "special_ids": special,
        "mask_id": tokenizer.token_to_id("[MASK]"),
        "vocab_size": vocab,
    }
    return MaskedLMData(
        train=MaskedChunks(
            chunks[np.sort(train)], batch_size, mask, seed, redraw=True
        ),
        val=MaskedChunks(
            chunks[val], batch_size, mask, data_seed + 1, redraw=False
        ),
        test=MaskedChunks(
            chunks[test], batch_size, mask, data_seed + 2, redraw=False
        ),
        vocabulary_size=vocab,
        tokenizer=tokenizer,
    )
