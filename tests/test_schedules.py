"""The schedules against an independent NumPy transcription of HF's code."""

import math

import numpy as np
import pytest

from kerastune_lab.schedules import WarmupDecay, build_schedule


def hf_factor(name, s, warmup, total):
    """Hugging Face transformers' schedule lambdas (optimization.py)."""
    if name == "constant":
        if warmup == 0:
            return 1.0
        return s / max(1, warmup) if s < warmup else 1.0
    if s < warmup:
        return s / max(1, warmup)
    if name == "linear":
        return max(0.0, (total - s) / max(1, total - warmup))
    progress = (s - warmup) / max(1, total - warmup)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))


@pytest.mark.parametrize("name", ["constant", "linear", "cosine"])
@pytest.mark.parametrize("warmup", [0, 1, 7])
@pytest.mark.parametrize("total", [53, 3001])
def test_every_step_matches_hf(name, warmup, total):
    base = 3e-4
    schedule = build_schedule(name, base, total, warmup)
    steps = np.arange(total + 1)
    got_all = (
        np.full(len(steps), schedule)
        if isinstance(schedule, float)
        else np.asarray(schedule(steps), dtype=np.float64)
    )
    for s, got in zip(steps, got_all):
        expected = base * hf_factor(name, s, warmup, total)
        assert got == pytest.approx(expected, rel=1e-6, abs=1e-12), (s, got)


def test_constant_without_warmup_is_a_plain_float():
    # A float keeps the optimizer's rate assignable (ReduceLROnPlateau).
    assert build_schedule("constant", 0.01, 100) == 0.01


def test_bad_arguments_are_explained():
    with pytest.raises(
        ValueError, match=r"warmup_steps .100. must be smaller"
    ):
        build_schedule("linear", 1e-3, 100, 100)
    with pytest.raises(ValueError, match="Unknown schedule 'step'"):
        build_schedule("step", 1e-3, 100)
    with pytest.raises(ValueError, match="peak_learning_rate"):
        WarmupDecay(0.0)
    with pytest.raises(ValueError, match="warmup_steps"):
        WarmupDecay(1e-3, warmup_steps=-1)


def test_warmup_decay_serializes():
    import keras

    schedule = WarmupDecay(
        1e-3, warmup_steps=5, decay_steps=20, decay="cosine"
    )
    again = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(schedule)
    )
    assert again.get_config() == schedule.get_config()
