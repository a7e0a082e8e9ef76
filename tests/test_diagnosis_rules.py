"""Each diagnosis rule alone, just either side of its thresholds, and the
order `diagnose_history` checks them in."""

import math
import re

import numpy as np
import pytest

from kerastune_lab.analysis import diagnose_history as dh
from kerastune_lab.analysis import diagnosis_rules as rules
from kerastune_lab.analysis.diagnosis import SEVERITY
from kerastune_lab.analysis.diagnosis_curves import Curves

BELOW, ABOVE = 0.8, 1.2  # either side of a threshold, with margin


def curves(loss, val=(), **kwargs):
    return Curves.from_history(
        {"loss": list(map(float, loss)), "val_loss": list(map(float, val))},
        **kwargs,
    )


def sawtooth(rise, n=7):
    """1, 1 + rise, 1, ...: every other epoch rises by `rise` (of 1)."""
    return [1.0 + rise * (i % 2) for i in range(n)]


def spiky_steps(spikes, height=5.0, steps=120):
    """Flat steps at 1.0 with `spikes` steps of `height`, far apart."""
    v = np.ones(steps)
    v[30 : 30 + 20 * spikes : 20] = height
    return list(v)


def zigzag(swing, n=8):
    return [1.0, 1.0 + swing] * (n // 2)


def tail(slope):
    """Falls by `slope` of its level per epoch over the last third."""
    return [2.0, 1.8, 1.6, 1.4, 1.3, 1.2, 1 + slope, 1.0, 1 - slope]


ES = {"train": {"early_stopping": True}}
R, J, U = rules.DIVERGE_RATIO, rules.UNSTABLE_JUMP, rules.UNSTABLE_MIN_RISE
# (rule, curves on which it must not fire, curves on which it must).
CASES = {
    "nonfinite": (
        rules.NonFiniteLoss(),
        curves([1.0, 0.5, 0.4], [1.0, 0.6, 0.5]),
        curves([1.0, 0.5, 0.4], [1.0, 0.6, math.inf]),
    ),
    "explosion_ratio": (
        rules.SustainedExplosion(),
        curves([1.0, 1.0, R * BELOW, R * BELOW]),
        curves([1.0, 1.0, R * ABOVE, R * ABOVE]),
    ),
    "explosion_not_sustained": (
        rules.SustainedExplosion(),
        curves([1.0, 2.0, 1.0, 2.0]),
        curves([1.0, 1.0, 2.0, 2.0]),
    ),
    "rising_train_jump": (
        rules.RisingTrainLoss(),
        curves(sawtooth(J * BELOW), no_skill_loss=1.0),
        curves(sawtooth(J * ABOVE), no_skill_loss=1.0),
    ),
    # Rises of 0.2 against min_rise x S.
    "rising_train_min_rise": (
        rules.RisingTrainLoss(),
        curves(sawtooth(0.2), no_skill_loss=0.2 / U * ABOVE),
        curves(sawtooth(0.2), no_skill_loss=0.2 / U * BELOW),
    ),
    # 2 of 6 epoch-to-epoch moves rise, against 3 of 6.
    "rising_train_up_fraction": (
        rules.RisingTrainLoss(up_fraction=0.45),
        curves([1.0, 1.2, 1.0, 1.2, 1.0, 0.9, 0.8]),
        curves([1.0, 1.2, 1.0, 1.2, 1.0, 1.2, 1.0]),
    ),
    "rising_train_min_epochs": (
        rules.RisingTrainLoss(),
        curves(sawtooth(0.5, n=rules.MIN_EPOCHS - 1)),
        curves(sawtooth(0.5, n=rules.MIN_EPOCHS)),
    ),
    # Lowest 0.5: the last epoch against DIVERGE_RATIO x 0.5.
    "last_epoch_spike_ratio": (
        rules.LastEpochSpike(),
        curves([1.0, 0.6, 0.5, 0.5 * R * BELOW]),
        curves([1.0, 0.6, 0.5, 0.5 * R * ABOVE]),
    ),
    # A jump of 0.3 against SPIKE_MIN_RISE x S.
    "last_epoch_spike_min_rise": (
        rules.LastEpochSpike(),
        curves([1.0, 0.6, 0.5, 0.8], no_skill_loss=3.0 * ABOVE),
        curves([1.0, 0.6, 0.5, 0.8], no_skill_loss=3.0 * BELOW),
    ),
    # 100 judged steps: 2 spikes (2%) against 4 (4%).
    "spiking_steps_fraction": (
        rules.SpikingSteps(),
        curves([1.0], step_losses=spiky_steps(2)),
        curves([1.0], step_losses=spiky_steps(4)),
    ),
    "spiking_steps_ratio": (
        rules.SpikingSteps(),
        curves([1.0], step_losses=spiky_steps(4, rules.SPIKE_RATIO * BELOW)),
        curves([1.0], step_losses=spiky_steps(4, rules.SPIKE_RATIO * ABOVE)),
    ),
    # The best epoch (3) is the kept one with early stopping only.
    "kept_epoch": (
        rules.KeptEpoch(),
        curves([1.0, 0.7, 0.6, 0.5, 0.4], [1.0, 0.8, 0.7, 0.6, 0.7]),
        curves(
            [1.0, 0.7, 0.6, 0.5, 0.4], [1.0, 0.8, 0.7, 0.6, 0.7], config=ES
        ),
    ),
    # Best 0.6 at epoch 2; the last validation loss rises from it.
    "validation_rose": (
        rules.ValidationRose(),
        curves([1.0, 0.8, 0.6, 0.5], [1.0, 0.8, 0.6, 0.6 * (1 + 0.04)]),
        curves([1.0, 0.8, 0.6, 0.5], [1.0, 0.8, 0.6, 0.6 * (1 + 0.06)]),
    ),
    "validation_rose_train_flat": (
        rules.ValidationRose(),
        curves([1.0, 0.8, 0.6, 0.6], [1.0, 0.8, 0.6, 0.7]),
        curves([1.0, 0.8, 0.6, 0.59], [1.0, 0.8, 0.6, 0.7]),
    ),
    # S = 1 (the start): a final gap of OVERFIT_GAP x 0.8 against x 1.2.
    "growing_gap": (
        rules.GrowingGap(),
        curves([1.0, 0.6, 0.5], [1.0, 0.55, 0.5 + rules.OVERFIT_GAP * BELOW]),
        curves([1.0, 0.6, 0.5], [1.0, 0.55, 0.5 + rules.OVERFIT_GAP * ABOVE]),
    ),
    "memorised": (
        rules.Memorised(),
        curves([1.0, 0.1, rules.MEMORISED * ABOVE], [1.0, 0.5, 0.5]),
        curves([1.0, 0.1, rules.MEMORISED * BELOW], [1.0, 0.5, 0.5]),
    ),
    "validation_zigzag_swing": (
        rules.ValidationZigzag(),
        curves([1.0] * 8, zigzag(0.07)),  # 6.8% per epoch on average
        curves([1.0] * 8, zigzag(0.14)),  # 13.1%
    ),
    # Directions flip in 3 of 6 pairs of moves.
    "validation_zigzag_flips": (
        rules.ValidationZigzag(flip_fraction=0.55),
        curves([1.0] * 8, [1.0, 1.3, 1.0, 1.3, 1.0, 0.8, 0.6, 0.4]),
        curves([1.0] * 8, [1.0, 1.3, 1.0, 1.3, 1.0, 1.3, 0.6, 0.4]),
    ),
    "little_learned": (
        rules.LittleLearned(),
        curves([2.0, rules.UNDERFIT_SKILL * 0.97 * 1.5], no_skill_loss=1.5),
        curves([2.0, rules.UNDERFIT_SKILL * 1.03 * 1.5], no_skill_loss=1.5),
    ),
    # Train loss 1.0 (under 0.9 x 1.5): the validation loss decides.
    "little_learned_on_validation": (
        rules.LittleLearned(),
        curves([2.0, 1.0], [1.6, 1.5 * 0.97], no_skill_loss=1.5),
        curves([2.0, 1.0], [1.6, 1.5 * 1.01], no_skill_loss=1.5),
    ),
    "still_improving": (
        rules.StillImproving(),
        curves(tail(rules.STILL_IMPROVING_SLOPE * BELOW)),
        curves(tail(rules.STILL_IMPROVING_SLOPE * ABOVE)),
    ),
    "still_improving_reads_validation": (
        rules.StillImproving(),
        curves(tail(0.1), [1.0] * 9),
        curves([1.0] * 9, tail(0.1)),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_fires_on_one_side_of_its_threshold(case):
    rule, calm, firing = CASES[case]
    quiet = rule.check(calm)
    assert not quiet.fired, quiet
    assert quiet.reason is None or rule.verdict is None
    finding = rule.check(firing)
    if isinstance(rule, rules.KeptEpoch):  # a note: it never fires
        assert not finding.fired and finding.reason, finding
    else:
        assert finding.fired and finding.reason, finding


def test_rule_thresholds_are_attributes():
    spike = curves([1.0, 0.6, 0.5, 0.8])
    assert rules.LastEpochSpike().check(spike).fired
    assert not rules.LastEpochSpike(ratio=2.0).check(spike).fired
    flat = curves([2.0, 1.0], no_skill_loss=1.5)
    assert not rules.LittleLearned().check(flat).fired
    assert rules.LittleLearned(skill=0.5).check(flat).fired


def test_rule_evidence():
    """The figures, computed here by hand."""
    found = rules.NonFiniteLoss().check(
        curves([1.0, 0.5, 0.4, math.nan], [1.0, 0.6, math.inf, 0.5])
    )
    assert found.evidence == {"first_nonfinite_epoch": 2}
    best = rules.BestEpoch().check(curves([1.0, 0.5, 0.25], [1.0, 0.5, 0.75]))
    assert best.evidence == {
        "best_epoch": 1,
        "best_val_loss": 0.5,
        "final_val_loss": 0.75,
        "final_gap": 0.5,
    }
    rising = rules.RisingTrainLoss().check(
        curves([1.0, 1.2, 1.0, 1.2, 1.0, 0.9, 0.8])
    )
    assert rising.evidence["train_up_fraction"] == pytest.approx(2 / 6)
    # S = 2: the final gap 0.3 is 15% of it; the rise from 0.6 is 1/6.
    rose = rules.ValidationRose().check(
        curves([1.0, 0.8, 0.4], [1.0, 0.6, 0.7], no_skill_loss=2.0)
    )
    assert rose.evidence == pytest.approx(
        {"val_rise_from_best": 1 / 6, "gap_over_reference": 0.15}
    )
    zig = rules.ValidationZigzag().check(curves([1.0] * 8, zigzag(0.14)))
    moves = [0.14, 0.14 / 1.14] * 3 + [0.14]  # relative, per epoch
    assert f"moving {np.mean(moves):.0%} per epoch" in zig.reason


def test_kept_epoch_hands_on_the_kept_curves():
    full = curves([1.0, 0.7, 0.6, 0.5, 0.4], [1.0, 0.8, 0.7, 0.6, 0.7])
    found = rules.KeptEpoch().check(
        curves(full.loss, full.val_loss, config=ES)
    )
    assert found.evidence == {"restored_epoch": 3}
    assert found.curves.loss == (1.0, 0.7, 0.6, 0.5)
    assert found.curves.val_loss == (1.0, 0.8, 0.7, 0.6)
    assert "kept epoch 3" in found.reason and "1 epoch(s)" in found.reason
    # Keras restores the best epoch's weights when the epochs run out as
    # well as when the patience does; the reason says which ended it.
    for patience, why in ((1, "its patience ran out"), (5, "its 5 epochs")):
        config = {"train": {"early_stopping": True, "patience": patience}}
        note = rules.KeptEpoch().check(
            curves(full.loss, full.val_loss, config=config)
        )
        assert why in note.reason, note
    # Without restoring the best weights the last epoch's model is kept.
    last = {"train": {"early_stopping": True, "restore_best_weights": False}}
    assert (
        not rules.KeptEpoch()
        .check(curves(full.loss, full.val_loss, config=last))
        .reason
    )
    # The kept model is not called memorised, nor still improving.
    kept = found.curves
    assert not rules.Memorised(memorised=1.0, gap=0.0).check(kept).fired
    assert not rules.StillImproving(slope=-1.0).check(kept).fired


def test_spike_fraction_matches_a_loop():
    """Against the rule as stated, one step at a time."""
    rng = np.random.default_rng(0)
    v = rng.uniform(0.5, 1.5, 300) * rng.choice([1, 1, 1, 1, 4], 300)
    window, ratio, rise, scale = 20, 2.0, 0.1, 1.3
    spikes = [
        v[i] > ratio * np.median(v[i - window : i])
        and v[i] - np.median(v[i - window : i]) > rise * scale
        for i in range(window, len(v))
    ]
    assert 0.05 < np.mean(spikes) < 0.3  # the data has spikes to count
    assert rules.spike_fraction(v, scale) == pytest.approx(np.mean(spikes))
    assert rules.spike_fraction(v[: rules.MIN_STEPS - 1], scale) is None


def _documented(pattern):
    return re.findall(pattern, dh.__doc__, flags=re.MULTILINE)


def test_rules_run_in_the_documented_order():
    """The module docstring names the rules in order; the list is that."""
    names = [type(rule).__name__ for rule in dh.VERDICT_RULES]
    documented = _documented(r"`([A-Z][A-Za-z]+)`")
    assert names + ["StillImproving"] == [
        n for n in documented if n in {*names, "StillImproving"}
    ]
    assert [type(rule).__name__ for rule in dh.FLAG_RULES] == [
        "StillImproving"
    ]
    # The numbered verdicts, and the verdicts of the rules in turn.
    numbered = _documented(r"^\d\. (\w+) \(")
    verdicts = [rule.verdict for rule in dh.VERDICT_RULES if rule.verdict]
    assert numbered == [
        v for i, v in enumerate(verdicts) if i == 0 or v != verdicts[i - 1]
    ]
    assert numbered == [
        "diverged",
        "unstable",
        "overfitting",
        "unstable",
        "underfitting",
        "good_fit",
    ]
    # Nothing is judged after good_fit, which fires on any curves.
    assert dh.VERDICT_RULES[-1].check(curves([1.0, 0.1, 5.0])).fired


def test_a_model_at_chance_after_one_epoch_is_underfitting():
    """A transfer run of one epoch, measured: train loss 84% of the
    no-skill loss (2.303), validation loss above it, test accuracy at the
    majority class's. Too short for the overfitting rules; not good_fit."""
    found = dh.diagnose_history(
        {"loss": [1.93], "val_loss": [2.38]}, no_skill_loss=2.303
    )
    assert found.verdict == "underfitting", found
    assert "no lower than the no-skill loss (2.303)" in found.reasons[-1]


def test_the_kept_model_is_judged_from_overfitting_on():
    order = [type(rule) for rule in dh.VERDICT_RULES]
    kept = order.index(rules.KeptEpoch)
    assert {r.verdict for r in dh.VERDICT_RULES[:kept]} == {
        None,
        "diverged",
        "unstable",
    }
    assert dh.VERDICT_RULES[kept + 1].verdict == "overfitting"


def test_severity_is_the_order_rules_first_name_verdicts():
    first = []
    for rule in dh.VERDICT_RULES:
        if rule.verdict and rule.verdict not in first:
            first.append(rule.verdict)
    assert tuple(first) == SEVERITY


def test_still_improving_joins_every_verdict_but_diverged():
    (flag,) = dh.FLAG_RULES
    assert set(flag.joins) == set(dh.VERDICTS) - {"diverged"}
    # Rising above the start after a fall: diverged, without the flag.
    diagnosis = dh.diagnose_history(
        {"loss": [1.0, 0.8, 0.6, 0.5, 1.1, 1.3], "val_loss": tail(0.1)[3:]}
    )
    assert diagnosis.verdict == "diverged" and diagnosis.flags == []
    assert "tail_slope" not in diagnosis.evidence


def test_advice_for_an_unknown_verdict_is_an_error():
    with pytest.raises(ValueError, match="Received: verdict='fine'"):
        dh.advice_for("fine", None)
