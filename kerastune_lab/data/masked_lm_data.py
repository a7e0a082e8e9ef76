"""Masked-LM data: a corpus tokenised, grouped into chunks, masked.

Tokenisation is `WordPieceTokenizer` (the `tokenizers` library, no
TensorFlow), and everything the model sees is NumPy, so the same token ids,
splits and masks reach the model on every Keras backend. Training masks
are redrawn every epoch; evaluation and test masks are drawn once, so
epochs compare on the same predictions.
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
from kerastune_lab.data.word_piece_tokenizer import (
    RESERVED_TOKENS,
    WordPieceTokenizer,
)
from kerastune_lab.errors import UserError

# Part of the token cache's key: a new tokenisation must not reuse the ids
# of an older one (caches written before this tag held keras-hub's).
TOKENIZATION = "tokenizers-wordpiece-1"


def build_tokenizer(texts, preset="", vocabulary_size=8000):
    """The preset's WordPiece tokenizer, or one trained on `texts`
    (lowercased, as BERT's uncased models)."""
    if preset:
        from kerastune_lab.models.bert_masked_lm import load_from_preset

        return load_from_preset(WordPieceTokenizer, preset)
    return WordPieceTokenizer.train(texts, vocabulary_size, lowercase=True)


def tokenize_corpus(texts, preset="", vocabulary_size=8000):
    """(tokenizer, one int array of token ids per text).

    Training a WordPiece vocabulary and tokenising take seconds that are
    the same for every run of a study: where KERASTUNE_LAB_CACHE_DIR is set
    (`compare` sets it to the study's cache/ folder), the tokenizer and
    the token ids are kept there, keyed by the texts and settings.
    """
    cache_dir = os.environ.get("KERASTUNE_LAB_CACHE_DIR")
    if not cache_dir:
        tokenizer = build_tokenizer(texts, preset, vocabulary_size)
        return tokenizer, tokenizer(texts)
    key = hashlib.sha256(
        json.dumps([TOKENIZATION, preset, vocabulary_size, texts]).encode()
    ).hexdigest()[:16]
    path = pathlib.Path(cache_dir) / f"corpus-{key}.npz"
    if path.is_file():
        cached = np.load(path)
        tokenizer = WordPieceTokenizer.from_json(str(cached["tokenizer"]))
        return tokenizer, np.split(cached["ids"], cached["offsets"][1:-1])
    tokenizer = build_tokenizer(texts, preset, vocabulary_size)
    token_lists = tokenizer(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: runs of a study start side by side.
    tmp = path.with_name(f".{path.stem}-{os.getpid()}.npz")
    np.savez(
        tmp,
        tokenizer=np.asarray(tokenizer.to_json()),
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


def load_corpus(data_config):
    """The texts of `[data]`: the user's .txt files, or pydoc's topics."""
    if data_config.name != "text":
        return load_pydoc_corpus()
    if not data_config.path:
        raise UserError(
            "data.name = 'text' needs data.path: a .txt file or a folder"
            ' of .txt files (--set data.path="corpus/").'
        )
    return load_text_files(data_config.path)


def corpus_chunks(data_config, token_lists, tokenizer, data_seed):
    """The corpus as rows of `data_config.chunk_size` ids (at most
    data.max_chunks of them, a seeded choice kept in corpus order)."""
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
    return chunks


def load_masked_lm_data(data_config, model_params, batch_size, seed):
    """Corpus -> tokenizer -> chunks -> seeded train/val/test MaskedChunks.

    Chunk selection, split and the fixed eval/test masks follow the data
    seed (data.split_seed, else `seed`); training masks follow `seed`.
    """
    data_seed = data_config.data_seed(seed)
    tokenizer, token_lists = tokenize_corpus(
        load_corpus(data_config),
        model_params.preset,
        model_params.vocabulary_size,
    )
    chunks = corpus_chunks(data_config, token_lists, tokenizer, data_seed)
    # Chunks have no label: one "class" gives a plain seeded split.
    train, val, test = stratified_split(
        np.zeros(len(chunks)),
        data_config.val_split,
        data_config.test_split,
        data_seed,
    )
    mask = {
        "mask_rate": data_config.mask_rate,
        "special_ids": {tokenizer.token_to_id(t) for t in RESERVED_TOKENS},
        "mask_id": tokenizer.token_to_id("[MASK]"),
        "vocab_size": tokenizer.vocabulary_size(),
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
        vocabulary_size=tokenizer.vocabulary_size(),
        tokenizer=tokenizer,
    )
