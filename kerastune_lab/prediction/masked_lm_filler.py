"""Fills [MASK] in text with a masked-LM run's model."""

import numpy as np

from kerastune_lab.data.word_piece_tokenizer import RESERVED_TOKENS
from kerastune_lab.errors import UserError

MASK = "[MASK]"


class MaskedLMFiller:
    """Proposes the tokens for each `[MASK]` of a text.

    A text is tokenised as the corpus was (the run's tokenizer.json), each
    literal `[MASK]` becomes the mask token, and the whole is wrapped in
    [CLS] ... [SEP] as the training chunks were. Special tokens are never
    proposed; a proposal may be a word piece (`##ing`).

    Args:
        model: The run's keras-hub `BertMaskedLM` (model.keras).
        tokenizer: The run's `WordPieceTokenizer`.
        max_length: Most tokens the model reads (its position embeddings).

    Example:

    >>> import keras_hub
    >>> from kerastune_lab.data.word_piece_tokenizer import (
    ...     WordPieceTokenizer)
    >>> tokenizer = WordPieceTokenizer.train(["the cat sat on a mat"], 60)
    >>> model = keras_hub.models.BertMaskedLM(
    ...     keras_hub.models.BertBackbone(
    ...         vocabulary_size=tokenizer.vocabulary_size(), num_layers=1,
    ...         num_heads=1, hidden_dim=8, intermediate_dim=8,
    ...         max_sequence_length=16),
    ...     preprocessor=None)
    >>> filler = MaskedLMFiller(model, tokenizer, max_length=16)
    >>> filled = filler.predict(["the [MASK] sat", "[MASK] on [MASK]"], 3)
    >>> [[len(slot) for slot in text] for text in filled]
    [[3], [3, 3]]
    """

    def __init__(self, model, tokenizer, max_length):
        from kerastune_lab.models.bert_masked_lm import training_view

        self.model = model
        # keras-hub's own predict builds a tf.data or Grain pipeline; the
        # plain functional view of the same layers predicts from NumPy.
        self._network = training_view(model)
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        # Text with [MASK] in it (a classifier's `reads` is "text").
        self.reads = "masked_text"
        self._special = [tokenizer.token_to_id(t) for t in RESERVED_TOKENS]

    def token_ids(self, text):
        """[CLS] text [SEP] as ids, with the mask id for each [MASK]."""
        if MASK not in text:
            raise UserError(
                f"{text!r} has no {MASK}: write {MASK} where the model "
                'should fill in a token, e.g. --text "The [MASK] '
                'statement leaves a loop."'
            )
        ids = [self.tokenizer.token_to_id("[CLS]")]
        for i, piece in enumerate(self.tokenizer(text.split(MASK))):
            if i:
                ids.append(self.tokenizer.token_to_id(MASK))
            ids.extend(piece.tolist())
        ids.append(self.tokenizer.token_to_id("[SEP]"))
        if len(ids) > self.max_length:
            raise UserError(
                f"{text[:60]!r}... is {len(ids)} tokens long; this model "
                f"reads at most {self.max_length}. Shorten the text."
            )
        return ids

    def inputs(self, texts):
        """The model's padded input batch for `texts`."""
        rows = [self.token_ids(text) for text in texts]
        mask_id = self.tokenizer.token_to_id(MASK)
        positions = [
            [i for i, t in enumerate(r) if t == mask_id] for r in rows
        ]
        width = max(map(len, rows))
        slots = max(map(len, positions))
        token_ids = np.full(
            (len(rows), width), self.tokenizer.token_to_id("[PAD]"), np.int32
        )
        padding_mask = np.zeros((len(rows), width), np.int32)
        mask_positions = np.zeros((len(rows), slots), np.int32)
        for i, (row, where) in enumerate(zip(rows, positions)):
            token_ids[i, : len(row)] = row
            padding_mask[i, : len(row)] = 1
            mask_positions[i, : len(where)] = where
        batch = {
            "token_ids": token_ids,
            "segment_ids": np.zeros_like(token_ids),
            "padding_mask": padding_mask,
            "mask_positions": mask_positions,
        }
        return batch, [len(where) for where in positions]

    def predict(self, texts, top_k=5):
        """Per text, per [MASK] in order, the `top_k` most probable
        (token, probability) pairs, most probable first."""
        import keras

        batch, counts = self.inputs(list(texts))
        logits = keras.ops.convert_to_numpy(
            self._network.predict(batch, verbose=0)
        ).astype(np.float64)
        logits -= logits.max(axis=-1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=-1, keepdims=True)
        ranked = probabilities.copy()
        ranked[..., self._special] = -1.0
        order = np.argsort(-ranked, axis=-1, kind="stable")[..., :top_k]
        vocabulary = self.tokenizer.get_vocabulary()
        return [
            [
                [(vocabulary[t], float(p[t])) for t in best]
                for p, best in zip(probabilities[i, :n], order[i, :n])
            ]
            for i, n in enumerate(counts)
        ]
