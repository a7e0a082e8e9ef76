"""Linear warmup, then constant or linear decay to 0 (the HF definitions)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerastune_lab")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Hugging Face's `linear` and `constant_with_warmup` schedules.

    With s the number of optimizer steps already taken and W the warmup
    steps, the rate is `peak_learning_rate` times

    - s < W: s / max(1, W)
    - otherwise, with `decay_steps` D: max(0, (W + D - s) / max(1, D)),
      or 1 when `decay_steps` is None (constant after warmup).

    HF's `get_linear_schedule_with_warmup(W, T)` is `decay_steps = T - W`.
    Keras has no linear-with-warmup schedule (`PolynomialDecay` has no
    warmup), hence this class; cosine uses `keras.optimizers.schedules.
    CosineDecay` directly.

    Args:
        peak_learning_rate: Rate reached at the end of warmup.
        warmup_steps: Number of warmup steps W (0 for none).
        decay_steps: Steps of linear decay after warmup, or None to stay at
            the peak.

    Example:

    >>> schedule = WarmupLinearDecay(1e-3, warmup_steps=100, decay_steps=900)
    >>> optimizer = keras.optimizers.AdamW(learning_rate=schedule)
    """

    def __init__(self, peak_learning_rate, warmup_steps=0, decay_steps=None):
        if not peak_learning_rate > 0:
            raise ValueError(
                "`peak_learning_rate` must be positive. Received: "
                f"peak_learning_rate={peak_learning_rate!r}"
            )
        if not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError(
                "`warmup_steps` must be a non-negative int. Received: "
                f"warmup_steps={warmup_steps!r}"
            )
        if decay_steps is not None and (
            not isinstance(decay_steps, int) or decay_steps < 1
        ):
            raise ValueError(
                "`decay_steps` must be a positive int or None. Received: "
                f"decay_steps={decay_steps!r}"
            )
        self.peak_learning_rate = float(peak_learning_rate)
        self.warmup_steps = warmup_steps
        self.decay_steps = decay_steps

    def __call__(self, step):
        s = ops.cast(step, "float32")
        warmup = float(self.warmup_steps)
        warming = s / max(1.0, warmup)
        if self.decay_steps is None:
            after = ops.ones_like(s)
        else:
            decay = float(self.decay_steps)
            after = ops.maximum(0.0, (warmup + decay - s) / max(1.0, decay))
        factor = ops.where(s < warmup, warming, after)
        return self.peak_learning_rate * factor

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
        }
