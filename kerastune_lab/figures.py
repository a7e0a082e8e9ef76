"""The figures runs are compared by: one registry that every reader uses.

A `Figure` is a number read from a finished run's history.csv and
metrics.json, with a label (tables), words (a report's protocol) and the
way it is better. `RunDirectory.read_figures` computes them,
`[analysis] figure` may name them, summary.csv holds a mean and interval
of each (those every run has), the report's "All figures" table shows
them, and a diverged run counts as a figure's worst value. A new figure
is one entry in `FIGURES`.

Besides them every metric a run logs gives two figures: final_eval_<m>
(the last epoch's val_<m>) and test_<m> (metrics.json). Which way those
are better is read from the name (`objective_direction`): a loss, an
error or a perplexity is better lower; an accuracy, AUC, precision,
recall or F1 higher. A name with words of both kinds, or of neither, has
no direction: the user states it (`--direction`, `[analysis] direction`).
"""

import dataclasses
import math
import re
from collections.abc import Callable

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
# Figures of any metric a run logs: final_eval_<metric>, test_<metric>.
LOGGED_FIGURE = re.compile(r"(final_eval|test)_\w+")


def eval_loss(history):
    """The eval loss per epoch of a history ({column: values}): val_loss,
    or the training loss for a run without a validation split.

    Example:

    >>> eval_loss({"loss": [2.0, 1.0], "val_loss": [2.5, 1.5]})
    [2.5, 1.5]
    >>> eval_loss({"loss": [2.0, 1.0]})
    [2.0, 1.0]
    """
    return history.get("val_loss") or history["loss"]


@dataclasses.dataclass(frozen=True)
class Figure:
    """One number a study compares runs by.

    Args:
        name: Its name in summary.csv, `[analysis] figure` and
            `RunDirectory.read_figures`.
        label: A table's column header.
        description: What it is, in words (a report's protocol).
        higher_is_better: Which way it is better.
        read: `read(history, metrics)` -> the figure of a finished run
            (history.csv as {column: values}, metrics.json as a dict), or
            None where the run has no such figure.

    Example:

    >>> figure = Figure("best_train_loss", "best train loss",
    ...                 "the lowest training loss of any epoch", False,
    ...                 lambda history, metrics: min(history["loss"]))
    >>> figure.read({"loss": [0.9, 0.5, 0.6]}, {})
    0.5
    """

    name: str
    label: str
    description: str
    higher_is_better: bool
    read: Callable[[dict, dict], float | None]


def _best(values):
    known = [v for v in values if not math.isnan(v)]
    return min(known, default=math.nan)


def _metric(name):
    def read(history, metrics):
        value = metrics.get(name)
        return float(value) if isinstance(value, (int, float)) else None

    return read


FIGURES = (
    Figure(
        "final_eval_loss",
        "final eval loss",
        "the validation loss after the last epoch",
        False,
        lambda history, metrics: eval_loss(history)[-1],
    ),
    Figure(
        "best_eval_loss",
        "best eval loss",
        "the lowest validation loss of any epoch",
        False,
        lambda history, metrics: _best(eval_loss(history)),
    ),
    Figure(
        "final_eval_perplexity",
        "eval perplexity",
        "exp of the final validation loss",
        False,
        lambda history, metrics: math.exp(min(eval_loss(history)[-1], 700.0)),
    ),
    Figure(
        "final_train_loss",
        "final train loss",
        "the training loss of the last epoch",
        False,
        lambda history, metrics: history["loss"][-1],
    ),
    Figure(
        "train_eval_gap",
        "eval - train gap",
        "final validation loss - final training loss",
        False,
        lambda history, metrics: eval_loss(history)[-1] - history["loss"][-1],
    ),
    Figure(
        "test_loss",
        "test loss",
        "the held-out test loss",
        False,
        lambda history, metrics: metrics["test_loss"],
    ),
    Figure(
        "test_accuracy",
        "test accuracy",
        "the held-out test accuracy",
        True,
        _metric("test_accuracy"),
    ),
)
BY_NAME = {figure.name: figure for figure in FIGURES}
STUDY_FIGURES = tuple(BY_NAME)


def read_figures(history, metrics):
    """Every figure of a finished run: final_eval_<m> and test_<m> of each
    metric it logged, then the registry's (those the run has).

    Example:

    >>> figures = read_figures(
    ...     {"loss": [1.0, 0.5], "val_loss": [1.2, 0.7],
    ...      "val_accuracy": [0.6, 0.8]},
    ...     {"test_loss": 0.75, "test_accuracy": 0.79},
    ... )
    >>> figures["final_eval_accuracy"], round(figures["train_eval_gap"], 2)
    (0.8, 0.2)
    """
    figures = {
        f"final_eval_{name.removeprefix('val_')}": values[-1]
        for name, values in history.items()
        if name.startswith("val_") and values
    }
    figures.update(
        (name, float(value))
        for name, value in metrics.items()
        if name.startswith("test_") and isinstance(value, (int, float))
    )
    for figure in FIGURES:
        value = figure.read(history, metrics)
        if value is not None:
            figures[figure.name] = value
    return figures


def is_study_figure(name):
    """Whether `compare` computes `name`: a registry figure, or
    final_eval_<m> / test_<m> of a logged metric."""
    return name in BY_NAME or LOGGED_FIGURE.fullmatch(name) is not None


def describe(name):
    """The figure's words, or its name where it is no registry figure."""
    figure = BY_NAME.get(name)
    return figure.description if figure else name


def objective_direction(name: str, direction: str = "") -> str | None:
    """ "min" or "max": `direction` where given, else the registry's for
    its figures, else the one the name says; None where the name says
    neither or both.

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
    if name in BY_NAME:
        return MAX if BY_NAME[name].higher_is_better else MIN
    words = set(name.lower().split("_"))
    lower, higher = words & LOWER_IS_BETTER, words & HIGHER_IS_BETTER
    if bool(lower) == bool(higher):
        return None
    return MIN if lower else MAX
