"""A synthetic sequence-classification task with size and difficulty knobs.

Made for the question of data size (3,000 vs 100,000 samples, small vs large
model) without a private data set. Each class owns a few "motif" bigrams;
a sequence is random background tokens with motif bigrams of its class
planted at random places. `difficulty` lowers how many motifs are planted
and adds motifs of other classes as distractors (difficulty 1 is
close to chance), so the label is only
visible to a model that looks at token order and counts evidence.
"""

import numpy as np

# Ids 0 (padding) and 1 (out of vocabulary) are reserved as in Keras's
# TextVectorization, so synthetic and text data look alike to the model.
_FIRST_TOKEN = 2


def make_synthetic_sequences(
    num_samples,
    difficulty=0.5,
    num_classes=2,
    vocab_size=1000,
    sequence_length=64,
    motifs_per_class=4,
    seed=0,
):
    """Returns (sequences int32 [n, sequence_length], labels int64 [n]).

    Lengths vary from half to the full `sequence_length`; shorter
    sequences are right-padded with 0 (masked by the model).
    """
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError(f"difficulty must be in [0, 1], got {difficulty}")
    rng = np.random.default_rng(seed)
    motifs = rng.integers(
        _FIRST_TOKEN, vocab_size, size=(num_classes, motifs_per_class, 2)
    )
    labels = rng.integers(0, num_classes, size=num_samples)
    sequences = np.zeros((num_samples, sequence_length), dtype=np.int32)
    # Easy: 6 motifs of the own class and no distractor; hardest: one own
    # motif against one distractor, which leaves the label near chance.
    own = max(1, round(6 * (1.0 - difficulty)))
    distractors = round(difficulty * own)
    lengths = rng.integers(
        sequence_length // 2, sequence_length + 1, size=num_samples
    )
    for i in range(num_samples):
        n = lengths[i]
        seq = rng.integers(_FIRST_TOKEN, vocab_size, size=n)
        planted = [
            motifs[labels[i], rng.integers(motifs_per_class)]
            for _ in range(own)
        ]
        for _ in range(distractors):
            other = (labels[i] + rng.integers(1, num_classes)) % num_classes
            planted.append(motifs[other, rng.integers(motifs_per_class)])
        starts = rng.choice(
            n - 1, size=min(len(planted), n - 1), replace=False
        )
        for start, motif in zip(starts, planted):
            seq[start : start + 2] = motif
        sequences[i, :n] = seq
    return sequences, labels.astype(np.int64)
