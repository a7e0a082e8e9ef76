"""Which way a figure is better, read from its name: `objective_direction`.

The one place that knows it: `improve --objective`, `compare`'s
`[analysis] figure` and the worst value a diverged run counts as all ask
here. The name is split at "_" and each word looked up: a loss, an error
or a perplexity is better lower; an accuracy, AUC, precision, recall or
F1 is better higher. A name with words of both kinds, or of neither,
has no direction: the user states it (`--direction`, `[analysis]
direction`).
"""

MIN, MAX = "min", "max"
DIRECTIONS = (MIN, MAX)
LOWER_IS_BETTER = frozenset(
    (
        "loss",
        "error",
        "perplexity",
        "crossentropy",
        "gap",
        "mse",
        "mae",
        "rmse",
        "hinge",
    )
)
HIGHER_IS_BETTER = frozenset(
    ("accuracy", "auc", "precision", "recall", "f1", "iou", "r2")
)


def objective_direction(name: str, direction: str = "") -> str | None:
    """ "min" or "max": `direction` where given, else the one the name
    says; None where the name says neither or both.

    Args:
        name: A figure or metric name, e.g. "val_accuracy",
            "final_eval_loss", "test_sparse_categorical_accuracy".
        direction: "min", "max", or "" (from the name).

    Example:

    >>> objective_direction("val_loss"), objective_direction("val_auc")
    ('min', 'max')
    >>> objective_direction("val_score") is None
    True
    >>> objective_direction("val_score", "max")
    'max'
    """
    if direction:
        if direction not in DIRECTIONS:
            raise ValueError(
                f"`direction` must be one of {DIRECTIONS} or ''. Received: "
                f"direction={direction!r}"
            )
        return direction
    words = set(name.lower().split("_"))
    lower, higher = words & LOWER_IS_BETTER, words & HIGHER_IS_BETTER
    if bool(lower) == bool(higher):
        return None
    return MIN if lower else MAX
