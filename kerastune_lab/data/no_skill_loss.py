"""The loss of a model that learned nothing: the baseline every loss is
read against."""

import numpy as np


def no_skill_loss(train_labels, eval_labels, num_classes, eval_weights=None):
    """Cross-entropy (nats) of always predicting the training split's label
    frequencies on the evaluation split's labels.

    For a classifier that is the class prior; for a masked LM, with the
    masked positions' tokens as labels, the training corpus's unigram
    distribution. Counts get add-one (Laplace) smoothing, so a label that
    the training split never shows costs log(total) nats, not infinity.

    Args:
        train_labels: int array of the labels seen in training.
        eval_labels: int array of the labels to score.
        num_classes: Number of classes (vocabulary size for a masked LM).
        eval_weights: Optional weights of `eval_labels` (0 for padding).
    """
    counts = np.bincount(np.ravel(train_labels), minlength=num_classes)
    prior = (counts + 1.0) / (counts.sum() + num_classes)
    eval_labels = np.ravel(eval_labels)
    weights = (
        np.ones(len(eval_labels))
        if eval_weights is None
        else np.ravel(eval_weights).astype(float)
    )
    return float(-(weights * np.log(prior[eval_labels])).sum() / weights.sum())
