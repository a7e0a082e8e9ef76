"""Crafted curves for each verdict, and cases on either side of a threshold."""

import json
import math

import numpy as np
import pytest

from kerastune_lab.analysis import diagnose_history as dh
from kerastune_lab.analysis.diagnosis import set_text
from kerastune_lab.analysis.diagnosis_advice import next_step, nice_number
from kerastune_lab.families.registry import knobs_for


def curves(loss, val):
    return {"loss": list(map(float, loss)), "val_loss": list(map(float, val))}


falling = np.exp(-0.6 * np.arange(12)) + 0.2

CASES = {
    "good_fit": curves(falling, falling + 0.05),
    "overfitting": curves(
        falling,
        [0.9, 0.7, 0.6, 0.55, 0.57, 0.6, 0.64, 0.7, 0.75, 0.8, 0.86, 0.9],
    ),
    "overfitting_memorised": curves(
        np.geomspace(0.7, 3e-5, 12), np.linspace(0.7, 0.22, 12)
    ),
    "underfitting_flat": curves(
        np.linspace(1.0, 0.95, 12), np.linspace(1.0, 0.96, 12)
    ),
    "unstable_train": curves(
        [1.0, 0.8, 1.0, 0.7, 0.95, 0.6, 0.9, 0.6, 0.85, 0.55, 0.8, 0.5],
        falling + 0.1,
    ),
    "unstable_val": curves(
        falling + 0.15,
        [0.9, 0.5, 0.9, 0.45, 0.85, 0.4, 0.8, 0.45, 0.85, 0.4, 0.8, 0.41],
    ),
    "diverged_nan": curves([1.0, 0.8, math.nan], [1.0, 0.9, math.nan]),
    "diverged_rising": curves([1.0, 1.4, 2.5, 4.0], [1.0, 1.5, 2.6, 4.2]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_crafted_curves(case):
    expected = "good_fit" if case == "good_fit" else case.split("_")[0]
    diagnosis = dh.diagnose_history(CASES[case])
    assert diagnosis.verdict == expected, diagnosis.reasons
    assert diagnosis.reasons
    if expected != "good_fit":
        assert diagnosis.advice and all(
            "." in a["key"] for a in diagnosis.advice
        )


# (verdict, flags, history, no-skill loss): the misfires a user met, and
# cases on either side of the new thresholds.
GROUNDED = {
    # A zigzag that ends on a high epoch is unstable, not diverged (the
    # old rule compared the last epoch with the first).
    "zigzag_ending_high": (
        "unstable",
        [],
        curves([1.0, 1.6, 0.9, 1.7, 1.0, 1.8], [1.0, 1.5, 1.0, 1.6, 1.0, 1.7]),
        None,
    ),
    "zigzag_ending_low": (
        "unstable",
        [],
        curves(
            [1.0, 1.6, 0.9, 1.7, 1.0, 1.8, 1.0],
            [1.0, 1.5, 1.0, 1.6, 1.0, 1.7, 1.0],
        ),
        None,
    ),
    # 91% validation accuracy, a small gap, the loss still easing down:
    # good, and still improving (the old rule said underfitting).
    "good_and_still_improving": (
        "good_fit",
        ["still improving"],
        curves(np.linspace(0.6, 0.25, 10), np.linspace(0.62, 0.3, 10)),
        math.log(2),
    ),
    # A 3-epoch classifier far below the class prior, still falling.
    "three_epochs_still_improving": (
        "good_fit",
        ["still improving"],
        curves([0.9, 0.45, 0.3], [0.6, 0.4, 0.33]),
        math.log(4),
    ),
    # The old default SD study: a masked LM barely below the unigram loss
    # (it was called good_fit).
    "mlm_near_no_skill": (
        "underfitting",
        ["still improving"],
        curves(np.linspace(6.8, 5.15, 10), np.linspace(5.9, 5.12, 10)),
        5.36,
    ),
    # Thresholds relative to the no-skill loss: the overfitting curves on
    # an MLM's scale (x 8) read the same.
    "overfitting_on_a_larger_scale": (
        "overfitting",
        [],
        curves(
            8 * np.asarray(CASES["overfitting"]["loss"]),
            8 * np.asarray(CASES["overfitting"]["val_loss"]),
        ),
        8.0,
    ),
    # A single late spike is not a sustained explosion.
    "one_late_spike": (
        "unstable",
        [],
        curves(
            [1.0, 0.7, 0.6, 0.55, 0.52, 1.2], [1.0, 0.72, 0.63, 0.6, 0.58, 1.1]
        ),
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(GROUNDED))
def test_grounded_verdicts(case):
    verdict, flags, history, no_skill = GROUNDED[case]
    diagnosis = dh.diagnose_history(history, no_skill_loss=no_skill)
    assert (diagnosis.verdict, diagnosis.flags) == (verdict, flags), (
        diagnosis.reasons
    )
    assert diagnosis.headline == ", ".join([verdict, *flags])


@pytest.mark.parametrize(
    "final, expected",
    [
        (dh.UNDERFIT_SKILL * 0.97, "good_fit"),
        (dh.UNDERFIT_SKILL * 1.03, "underfitting"),
    ],
)
def test_underfit_threshold_is_relative_to_the_no_skill_loss(final, expected):
    # Flat at the end: no "still improving" flag in the way.
    loss = [2.0, 1.4] + [final * 1.5] * 8
    diagnosis = dh.diagnose_history(
        curves(loss, np.asarray(loss) + 0.01), no_skill_loss=1.5
    )
    assert diagnosis.verdict == expected, diagnosis.reasons


def test_spiky_steps_are_unstable_and_noisy_ones_are_not():
    rng = np.random.default_rng(0)
    smooth = np.linspace(2.0, 1.0, 200) * rng.uniform(0.8, 1.2, 200)
    spiky = smooth.copy()
    spiky[rng.choice(np.arange(20, 200), 12, replace=False)] *= 4
    history = curves(np.linspace(1.8, 1.05, 6), np.linspace(1.85, 1.1, 6))
    calm = dh.diagnose_history(
        history, no_skill_loss=2.0, step_losses=list(smooth)
    )
    assert calm.verdict != "unstable", calm.reasons
    wild = dh.diagnose_history(
        history, no_skill_loss=2.0, step_losses=list(spiky)
    )
    assert wild.verdict == "unstable", wild.reasons


def test_overfitting_cites_best_epoch_and_values():
    diagnosis = dh.diagnose_history(CASES["overfitting"])
    assert diagnosis.evidence["best_epoch"] == 3
    assert "epoch 3" in diagnosis.reasons[0] and "0.55" in diagnosis.reasons[0]


def test_nonfinite_epoch_is_reported():
    diagnosis = dh.diagnose_history(CASES["diverged_nan"])
    assert diagnosis.evidence["first_nonfinite_epoch"] == 2


@pytest.mark.parametrize(
    "rise, expected",
    [
        (dh.OVERFIT_RISE * 0.8, "good_fit"),
        (dh.OVERFIT_RISE * 1.2, "overfitting"),
    ],
)
def test_overfit_rise_threshold(rise, expected):
    loss = np.linspace(1.0, 0.5, 10) ** 0.2
    val = list(loss[:6] + 0.05)
    best = val[-1]
    val += list(np.linspace(best, best * (1 + rise), 5)[1:])
    # A large no-skill loss keeps the gap rule out: the rise decides.
    assert (
        dh.diagnose_history(curves(loss, val), no_skill_loss=3.0).verdict
        == expected
    )


@pytest.mark.parametrize(
    "ratio, expected",
    [
        (dh.DIVERGE_RATIO * 0.95, "not diverged"),
        (dh.DIVERGE_RATIO * 1.05, "diverged"),
    ],
)
def test_divergence_ratio_threshold(ratio, expected):
    loss = [1.0, 1.0 * ratio]
    verdict = dh.diagnose_history({"loss": loss}).verdict
    assert (verdict == "diverged") == (expected == "diverged")


def test_advice_values_come_from_the_config():
    from kerastune_lab.config import load_experiment

    config = load_experiment(
        None,
        [
            "model.dropout_rate=0.3",
            "model.gru_units=64",
            "train.learning_rate=1e-4",
            "train.early_stopping=false",
        ],
    ).to_dict()
    knobs = knobs_for(config)
    advice = {
        a["key"]: a["value"]
        for a in dh.diagnose_history(
            CASES["overfitting"], config, knobs=knobs
        ).advice
    }
    assert advice["model.dropout_rate"] == 0.5
    assert advice["model.gru_units"] == 32
    assert advice["train.early_stopping"] is True
    unstable = dh.diagnose_history(CASES["unstable_train"], config)
    values = {a["key"]: a["value"] for a in unstable.advice}
    # Native values, a rate a user would write (1e-4 / 3 -> 3e-5).
    assert values["train.learning_rate"] == 3e-5
    assert values["train.batch_size"] == 2 * config["train"]["batch_size"]
    assert values["train.schedule"] == "cosine"
    # No family knobs passed: the training keys only.
    assert not any(key.startswith("model.") for key in values)
    # diagnosis.json shows numbers as numbers; the text shows --set.
    saved = json.loads(json.dumps(unstable.to_dict()))
    rate = next(
        a for a in saved["advice"] if a["key"] == "train.learning_rate"
    )
    assert rate["value"] == 3e-5 and rate["direction"] == "down"
    assert "--set train.learning_rate=3e-05" in unstable.to_text()
    assert '--set train.schedule="cosine"' in unstable.to_text()


def test_rates_step_on_a_one_two_three_five_ladder():
    assert [nice_number(v) for v in (9e-3, 3.3e-4, 2.1e-3, 7e-4)] == [
        0.01,
        3e-4,
        2e-3,
        5e-4,
    ]
    rate = {"train": {"learning_rate": 3e-3}}
    change = {"key": "train.learning_rate", "direction": "up"}
    assert next_step(rate, change) == 0.01
    assert next_step(rate, {**change, "direction": ""}) is None


def test_empty_history_is_an_error():
    with pytest.raises(ValueError, match="no 'loss'"):
        dh.diagnose_history({})


ADVICE_CASES = [
    ['model.name="gru"'],
    ['model.name="gru"', 'data.name="synthetic"', "model.l2=1e-3"],
    ['model.name="transformer"'],
    ['model.name="bert_mlm"'],
    ['model.name="transfer"'],
    ['model.name="transfer"', 'model.weights="none"', "data.augment=true"],
]


@pytest.mark.parametrize("overrides", ADVICE_CASES)
@pytest.mark.parametrize(
    "verdict", ["overfitting", "underfitting", "unstable", "diverged"]
)
def test_every_advised_set_passes_check(overrides, verdict):
    """Each family's advice names keys of its own configuration with
    values `kerastune-lab check` accepts, one --set at a time."""
    from click.testing import CliRunner

    from kerastune_lab.analysis.diagnose_history import advice_for
    from kerastune_lab.cli.main import cli
    from kerastune_lab.config import load_experiment

    config = load_experiment(None, overrides).to_dict()
    advice = advice_for(verdict, config, knobs=knobs_for(config))
    assert advice, (verdict, overrides)
    sets = [
        a
        for item in advice
        for a in ("--set", set_text(item["key"], item["value"]))
    ]
    base = [a for o in overrides for a in ("--set", o)]
    for i in range(0, len(sets), 2):
        result = CliRunner().invoke(cli, ["check", *base, *sets[i : i + 2]])
        assert result.exit_code == 0, (sets[i + 1], result.output)
    if verdict in ("overfitting", "underfitting"):
        # The family's own knobs, not only the generic train keys.
        assert any(item["key"].startswith("model.") for item in advice)


def test_early_stopping_judges_the_epoch_it_kept():
    """With restore_best_weights the patience epochs after the best one
    are not the result: the same curves are overfitting without early
    stopping and good_fit with it."""
    from kerastune_lab.config import load_experiment

    curves_ = CASES["overfitting"]
    kept = load_experiment(None, []).to_dict()
    off = load_experiment(None, ["train.early_stopping=false"]).to_dict()
    assert dh.diagnose_history(curves_, off).verdict == "overfitting"
    diagnosis = dh.diagnose_history(curves_, kept)
    assert diagnosis.verdict == "good_fit", diagnosis.reasons
    assert "early stopping kept epoch 3" in diagnosis.reasons[0]
    assert diagnosis.flags == []  # its patience ran out: not improving
