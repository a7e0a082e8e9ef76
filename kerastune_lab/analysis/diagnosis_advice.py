"""What to change for a verdict: `advice_for`.

Advice names experiment-file keys and values computed from the run's own
configuration: generic training keys (early stopping, epochs, rate,
schedule, batch size, clipping; seeds 000, 001, 003) and the run's model
family's knobs of capacity, regularisation and data amount
(`families.model_family.Knob`), each a value `kerastune-lab check`
accepts.
"""

from collections.abc import Iterable, Mapping
from typing import TypedDict

from kerastune_lab.analysis.diagnosis import STILL_IMPROVING, VERDICTS


class Change(TypedDict):
    """One advised change: `--set {key}={value}`, and why."""

    key: str
    value: object
    why: str


def _get(config, section, key, default):
    return (config or {}).get(section, {}).get(key, default)


def _knob_advice(config, roles):
    """Advice from the run's model family's knobs: for each (role,
    direction), the knobs of that role moved one step that way."""
    from kerastune_lab.families.registry import FAMILIES

    family = FAMILIES.get(_get(config, "model", "name", None))
    if family is None:
        return []
    items = []
    for role, direction in roles:
        for knob in family.knobs:
            if knob.role != role or (
                knob.applies is not None and not knob.applies(config)
            ):
                continue
            value = getattr(knob, direction)(knob.value(config))
            if value is not None:
                more = "more" if direction == "up" else "less"
                items.append(
                    Change(key=knob.key, value=value, why=f"{more} {knob.why}")
                )
    return items


def _clip(config):
    if _get(config, "train", "clipnorm", 0.0):
        return []
    return [
        Change(key="train.clipnorm", value=1.0, why="clip the gradient norm")
    ]


def _longer(config, flags):
    if STILL_IMPROVING not in flags:
        return []
    epochs = _get(config, "train", "epochs", 20)
    return [
        Change(
            key="train.epochs",
            value=epochs * 2,
            why="train longer: the loss was still falling",
        )
    ]


def _overfitting(config, flags):
    early = (
        []
        if _get(config, "train", "early_stopping", False)
        else [
            Change(
                key="train.early_stopping",
                value="true",
                why="keep the best validation epoch",
            )
        ]
    )
    return early + _knob_advice(
        config,
        [("regularisation", "up"), ("capacity", "down"), ("data", "up")],
    )


def _underfitting(config, flags):
    lr = _get(config, "train", "learning_rate", 1e-3)
    return (
        _longer(config, flags)
        + [
            Change(
                key="train.learning_rate",
                value=f"{lr * 3:.3g}",
                why="a higher rate learns faster",
            )
        ]
        + _knob_advice(
            config, [("capacity", "up"), ("regularisation", "down")]
        )
    )


def _unstable(config, flags):
    lr = _get(config, "train", "learning_rate", 1e-3)
    batch = _get(config, "train", "batch_size", 64)
    cosine = _get(config, "train", "schedule", "") == "cosine"
    return [
        Change(
            key="train.learning_rate",
            value=f"{lr / 3:.3g}",
            why="a lower rate steadies training",
        ),
        Change(
            key="train.batch_size",
            value=batch * 2,
            why="larger batches give smoother gradients",
        ),
        *(
            []
            if cosine
            else [
                Change(
                    key="train.schedule",
                    value='"cosine"',
                    why="a decaying rate settles late training",
                )
            ]
        ),
        *_clip(config),
    ]


def _diverged(config, flags):
    lr = _get(config, "train", "learning_rate", 1e-3)
    return [
        Change(
            key="train.learning_rate",
            value=f"{lr / 10:.3g}",
            why="the rate is too high for this model",
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
    verdict: str, config: Mapping | None, flags: Iterable[str] = ()
) -> list[Change]:
    """Ready `--set` changes for a verdict, most promising first.

    Args:
        verdict: One of `VERDICTS`.
        config: The run's resolved configuration dict (config.json
            "config"); None for generic advice only (no family knobs).
        flags: The run's flags; `STILL_IMPROVING` adds "train longer".

    Returns:
        `Change`s (`{"key", "value", "why"}` dicts); each value is valid
        for `kerastune-lab check --set key=value` with this configuration.

    Example:

    >>> config = {"train": {"learning_rate": 0.01}}
    >>> [(c["key"], c["value"]) for c in advice_for("diverged", config)]
    [('train.learning_rate', '0.001'), ('train.clipnorm', 1.0)]
    """
    if verdict not in _ADVISERS:
        raise ValueError(
            f"`verdict` must be one of {VERDICTS}. Received: "
            f"verdict={verdict!r}"
        )
    return _ADVISERS[verdict](config, tuple(flags))
