"""BERT's masking: 15% of the tokens, 80% [MASK] / 10% random / 10% kept."""

import numpy as np

# Of the chosen positions: this share shows [MASK], this share a random
# non-special token, and the rest the true token (Devlin et al. 2019).
MASK_TOKEN_SHARE = 0.8
RANDOM_TOKEN_SHARE = 0.1


def num_mask_positions(chunk_size, mask_rate):
    """Static number of prediction slots per chunk for a given rate."""
    return max(1, round(mask_rate * chunk_size))


def draw_masks(chunks, rng, mask_rate, special_ids, mask_id, vocab_size):
    """Masks `num_mask_positions(chunk_size, mask_rate)` positions of
    every row (all its maskable tokens where it has fewer).

    Positions are drawn uniformly among the row's non-special tokens; each
    chosen token becomes [MASK] with probability 0.8, a random non-special
    token with 0.1, and stays as it is with 0.1 (Devlin et al. 2019).
    Every row has the same number of slots so shapes are static, and the
    same number of real ones wherever it can: Keras averages a split's
    loss over batches weighted by their rows, which equals the mean over
    real slots only when rows carry equal numbers of them. Slots a short
    row cannot fill have weight 0.

    Returns:
        (token_ids, mask_positions, labels, sample_weight).
    """
    n, length = chunks.shape
    slots = num_mask_positions(length, mask_rate)
    special = np.asarray(sorted(special_ids))
    maskable = ~np.isin(chunks, special)
    counts = np.minimum(maskable.sum(axis=1), slots)
    # Random keys; non-maskable positions sort last.
    keys = np.where(maskable, rng.random((n, length)), 2.0)
    order = np.argsort(keys, axis=1)[:, :slots]
    weight = (np.arange(slots)[None, :] < counts[:, None]).astype("float32")
    positions = np.sort(np.where(weight > 0, order, length), axis=1)
    weight = np.sort(weight, axis=1)[:, ::-1]  # used slots first, as sorted
    positions = np.where(weight > 0, positions, 0)
    labels = np.take_along_axis(chunks, positions, axis=1)
    action = rng.random(positions.shape)
    random_tokens = rng.integers(0, vocab_size, size=positions.shape)
    while np.isin(random_tokens, special).any():
        redraw = np.isin(random_tokens, special)
        random_tokens[redraw] = rng.integers(0, vocab_size, size=redraw.sum())
    replacement = np.where(
        action < MASK_TOKEN_SHARE,
        mask_id,
        np.where(
            action < MASK_TOKEN_SHARE + RANDOM_TOKEN_SHARE,
            random_tokens,
            labels,
        ),
    )
    ids = chunks.copy()
    rows = np.nonzero(weight > 0)
    ids[rows[0], positions[rows]] = replacement[rows]
    return (
        ids.astype("int32"),
        positions.astype("int32"),
        labels.astype("int32"),
        weight,
    )
