"""The learning-rate schedule of an experiment, by name."""

from kerastune_lab.choices import SCHEDULES
from kerastune_lab.schedules.warmup_decay import WarmupDecay


def build_schedule(name, learning_rate, total_steps, warmup_steps=0):
    """Returns the rate (float or schedule) equal to HF's schedule of `name`.

    - constant: `learning_rate` as a plain float, so callbacks such as
      ReduceLROnPlateau can still assign it; with warmup, HF's
      `constant_with_warmup`.
    - linear: HF `get_linear_schedule_with_warmup(W, T)`.
    - cosine: HF `get_cosine_schedule_with_warmup(W, T)`.

    Args:
        name: One of `SCHEDULES`.
        learning_rate: Base (peak) rate.
        total_steps: T, the number of optimizer steps of the whole run.
        warmup_steps: W, steps of linear warmup from 0.
    """
    if name not in SCHEDULES:
        raise ValueError(
            f"Unknown schedule {name!r}; expected one of {SCHEDULES}."
        )
    if warmup_steps and warmup_steps >= total_steps:
        raise ValueError(
            f"warmup_steps ({warmup_steps}) must be smaller than the total "
            f"number of optimizer steps ({total_steps}); lower warmup_steps "
            "or train for more epochs."
        )
    if name == "constant" and not warmup_steps:
        return float(learning_rate)
    return WarmupDecay(
        learning_rate, warmup_steps, total_steps - warmup_steps, decay=name
    )
