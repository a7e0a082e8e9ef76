"""The loss of a model that learned nothing: the baseline every loss is
read against."""

import numpy as np

from kerastune_lab.data.masking import MASK_TOKEN_SHARE, RANDOM_TOKEN_SHARE


def label_prior(train_labels, num_classes):
    """The training split's label frequencies with add-one (Laplace)
    smoothing, so a label it never shows costs log(total) nats, not
    infinity."""
    counts = np.bincount(np.ravel(train_labels), minlength=num_classes)
    return (counts + 1.0) / (counts.sum() + num_classes)


def _mean_nll(probabilities, weights):
    weights = (
        np.ones(len(probabilities))
        if weights is None
        else np.ravel(weights).astype(float)
    )
    return float(-(weights * np.log(probabilities)).sum() / weights.sum())


def no_skill_loss(train_labels, eval_labels, num_classes, eval_weights=None):
    """Cross-entropy (nats) of always predicting the training split's label
    frequencies on the evaluation split's labels.

    For a classifier that is the class prior; for a masked LM, with the
    masked positions' tokens as labels, the training corpus's unigram
    distribution (`unigram_eval_loss`).

    Args:
        train_labels: int array of the labels seen in training.
        eval_labels: int array of the labels to score.
        num_classes: Number of classes (vocabulary size for a masked LM).
        eval_weights: Optional weights of `eval_labels` (0 for padding).
    """
    prior = label_prior(train_labels, num_classes)
    return _mean_nll(prior[np.ravel(eval_labels)], eval_weights)


def context_free_masked_lm_loss(
    train_tokens,
    eval_labels,
    shown_tokens,
    num_classes,
    mask_id,
    num_random_tokens,
    eval_weights=None,
):
    """Cross-entropy (nats) of the best masked-LM predictor that uses no
    context: at each masked slot, the posterior of the true token given
    only the token shown there.

    Under the 80/10/10 rule a slot shows [MASK] (probability 0.8,
    whatever the true token y), a random token (0.1, uniform over the R =
    `num_random_tokens` non-special tokens) or y itself (0.1). With u the
    training split's unigram (`label_prior`, summing to 1), Bayes gives the
    posterior u(y) at a [MASK] slot and, where token s is shown,
    u(y) (0.1 / R + 0.1 [y = s]) / (0.1 / R + 0.1 u(s)). A model has
    learned context only where its loss is below this: copying the shown
    token already gets this far.

    Args:
        train_tokens: int array of the training split's maskable tokens.
        eval_labels: int array: the true token of each evaluation slot.
        shown_tokens: int array: the token the model sees at that slot.
        num_classes: Vocabulary size.
        mask_id: The [MASK] token id.
        num_random_tokens: How many tokens a random replacement is drawn
            from (the non-special ones).
        eval_weights: Optional weights of the slots (0: an empty slot).
    """
    prior = label_prior(train_tokens, num_classes)
    labels = np.ravel(eval_labels)
    shown = np.ravel(shown_tokens)
    random_share = RANDOM_TOKEN_SHARE / num_random_tokens
    kept_share = 1.0 - MASK_TOKEN_SHARE - RANDOM_TOKEN_SHARE
    at_mask = shown == mask_id
    likelihood = random_share + kept_share * (labels == shown)
    evidence = random_share + kept_share * prior[shown]
    posterior = np.where(
        at_mask, prior[labels], prior[labels] * likelihood / evidence
    )
    return _mean_nll(posterior, eval_weights)
