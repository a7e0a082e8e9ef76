"""What to change for a verdict: `advice_for`.

Advice names experiment-file keys and values computed from the run's own
configuration: generic training keys (early stopping, epochs, rate,
schedule, batch size, clipping) and the knobs of capacity,
regularisation and data amount of the run's model family, which the
caller passes in (`ModelFamily.knobs`: this module knows no family).
Each value is native (a number, string, boolean or list) and one that
`kerastune-lab check` accepts; `analysis.diagnosis.set_text` renders it
as a `--set` argument only where it is shown. A change that moves a
`Knob` says which way (`direction`), so `improve` can walk on in that
direction (`next_step`).
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TypedDict

from kerastune_lab.analysis.diagnosis import STILL_IMPROVING, VERDICTS
from kerastune_lab.analysis.knob import DOWN, UP, Knob


class Change(TypedDict):
    """One advised change: `--set {key}={value}`, why, and the way it
    moves its knob ("up", "down", or "" for a change that is no step,
    e.g. turning early stopping on)."""

    key: str
    value: object
    why: str
    direction: str


def nice_number(value: float) -> float:
    """`value` rounded to the nearest (in ratio) of 1, 2, 3 and 5 times a
    power of ten: rates a user would write (3e-3 x 3 -> 1e-2)."""
    if not value > 0:
        return value
    power = 10.0 ** math.floor(math.log10(value))
    mantissa = min(
        (1, 2, 3, 5, 10), key=lambda m: abs(math.log(value / power / m))
    )
    return float(f"{mantissa * power:.3g}")


TRAINING_KNOBS = (
    Knob(
        "train.learning_rate",
        "training",
        lambda rate: nice_number(rate * 3),
        lambda rate: nice_number(rate / 3),
        "the learning rate",
    ),
    Knob(
        "train.batch_size",
        "training",
        lambda batch: batch * 2,
        lambda batch: batch // 2 if batch > 1 else None,
        "the batch size",
    ),
    Knob(
        "train.epochs",
        "training",
        lambda epochs: epochs * 2,
        lambda epochs: None,
        "the number of epochs",
    ),
)
_RATE, _BATCH, _EPOCHS = TRAINING_KNOBS
TRAINING_DEFAULTS = {"learning_rate": 1e-3, "batch_size": 64, "epochs": 20}


def _get(config, section, key, default):
    return (config or {}).get(section, {}).get(key, default)


def _change(key, value, why, direction=""):
    return Change(key=key, value=value, why=why, direction=direction)


def _step(config, knob, direction, why):
    """The knob moved one step from the configuration's value ([] where
    it cannot move), as a list of at most one change."""
    value = knob.step(config, direction)
    return [] if value is None else [_change(knob.key, value, why, direction)]


def _knob_advice(config, roles, knobs):
    """Advice from the run's model family's knobs: for each (role,
    direction), the knobs of that role moved one step that way."""
    items = []
    for role, direction in roles:
        for knob in knobs:
            if knob.role != role:
                continue
            more = "more" if direction == UP else "less"
            items += _step(config, knob, direction, f"{more} {knob.why}")
    return items


def _with_defaults(config):
    """The configuration with the training keys the advice steps from
    (their defaults where a bare history names no configuration)."""
    config = dict(config or {})
    config["train"] = TRAINING_DEFAULTS | dict(config.get("train", {}))
    return config


def _clip(config):
    if _get(config, "train", "clipnorm", 0.0):
        return []
    return [_change("train.clipnorm", 1.0, "clip the gradient norm")]


def _longer(config, flags, knobs):
    if STILL_IMPROVING not in flags:
        return []
    return _step(
        _with_defaults(config),
        _EPOCHS,
        UP,
        "train longer: the loss was still falling",
    )


def _overfitting(config, flags, knobs):
    early = (
        []
        if _get(config, "train", "early_stopping", False)
        else [
            _change(
                "train.early_stopping",
                True,
                "keep the best validation epoch",
            )
        ]
    )
    return early + _knob_advice(
        config,
        [("regularisation", UP), ("capacity", DOWN), ("data", UP)],
        knobs,
    )


def _underfitting(config, flags, knobs):
    return (
        _longer(config, flags, knobs)
        + _step(
            _with_defaults(config), _RATE, UP, "a higher rate learns faster"
        )
        + _knob_advice(
            config, [("capacity", UP), ("regularisation", DOWN)], knobs
        )
    )


def _unstable(config, flags, knobs):
    cosine = _get(config, "train", "schedule", "") == "cosine"
    steady = _with_defaults(config)
    return [
        *_step(steady, _RATE, DOWN, "a lower rate steadies training"),
        *_step(steady, _BATCH, UP, "larger batches give smoother gradients"),
        *(
            []
            if cosine
            else [
                _change(
                    "train.schedule",
                    "cosine",
                    "a decaying rate settles late training",
                )
            ]
        ),
        *_clip(config),
    ]


def _diverged(config, flags, knobs):
    rate = _get(config, "train", "learning_rate", 1e-3)
    return [
        _change(
            "train.learning_rate",
            nice_number(rate / 10),
            "the rate is too high for this model",
            DOWN,
        ),
        *_clip(config),
    ]


_ADVISERS = {
    "good_fit": _longer,
    "overfitting": _overfitting,
    "underfitting": _underfitting,
    "unstable": _unstable,
    "diverged": _diverged,
}


def advice_for(
    verdict: str,
    config: Mapping | None,
    flags: Iterable[str] = (),
    knobs: Sequence[Knob] = (),
) -> list[Change]:
    """Ready changes for a verdict, most promising first.

    Args:
        verdict: One of `VERDICTS`.
        config: The run's resolved configuration dict (config.json
            "config"); None for generic advice only.
        flags: The run's flags; `STILL_IMPROVING` adds "train longer".
        knobs: The run's model family's `Knob`s (`ModelFamily.knobs`);
            none: the training keys only.

    Returns:
        `Change`s (`{"key", "value", "why", "direction"}` dicts); each
        value is native and valid for `kerastune-lab check --set
        {set_text(key, value)}` with this configuration.

    Example:

    >>> config = {"train": {"learning_rate": 0.01}}
    >>> [(c["key"], c["value"]) for c in advice_for("diverged", config)]
    [('train.learning_rate', 0.001), ('train.clipnorm', 1.0)]
    """
    if verdict not in _ADVISERS:
        raise ValueError(
            f"`verdict` must be one of {VERDICTS}. Received: "
            f"verdict={verdict!r}"
        )
    return _ADVISERS[verdict](config, tuple(flags), tuple(knobs))


def next_step(config, change, knobs=()):
    """The value one step further than an adopted `change` (a `Change`
    dict, or anything with key, direction) from `config`, which holds it
    already, along the same knob (the training keys' or one of the
    family's `knobs`); None where the change is no step, or the knob's
    range ends.

    Example:

    >>> config = {"train": {"learning_rate": 0.003}}
    >>> next_step(config, {"key": "train.learning_rate", "direction": "up"})
    0.01
    """
    direction = change["direction"]
    if direction not in (UP, DOWN):
        return None
    for knob in (*TRAINING_KNOBS, *knobs):
        if knob.key == change["key"]:
            return knob.step(config, direction)
    return None
