"""A verdict on a training run from its curves, with evidence and advice.

Every loss is read against S, the loss of a model that learned nothing:
the run's `no_skill_eval_loss` (class prior or unigram cross-entropy,
config.json) when known, else its first step's batch loss, else its
first epoch's. The rules (analysis/diagnosis_rules.py, thresholds there)
are checked in this order, `VERDICT_RULES`; the first that fires wins.
Epochs are 0-based, as in history.csv:

1. diverged (`NonFiniteLoss`, `SustainedExplosion`): a non-finite train or
   validation loss; or a sustained explosion: the train loss of the last
   epochs (the last one for runs of 2 epochs or fewer, else the last 2)
   all above DIVERGE_RATIO times the run's lowest train loss and above
   where it started. A zigzag that ends on a high epoch is not sustained.
   Then `BestEpoch` notes the best validation epoch, which the rules
   after it cite.
2. unstable (`RisingTrainLoss`, `LastEpochSpike`, `SpikingSteps`): the
   train loss goes up from one epoch to the next in at least
   UNSTABLE_UP_FRACTION of the epochs, by more than UNSTABLE_JUMP of its
   value and UNSTABLE_MIN_RISE x S on average (needs MIN_EPOCHS); or the
   last epoch's train loss jumped above DIVERGE_RATIO times its lowest, by
   more than SPIKE_MIN_RISE x S, without staying there (a spike, not yet
   an explosion); or, from steps.csv (at least MIN_STEPS steps), at least
   SPIKE_FRACTION of the steps spike: their batch loss exceeds SPIKE_RATIO
   times the median of the SPIKE_WINDOW steps before it, and by more than
   SPIKE_MIN_RISE x S.
   With early stopping that restores the best weights, `KeptEpoch` makes
   rules 3 to 6 judge the kept model: the curves up to the best
   validation epoch (Keras restores its weights at the end of training,
   whether the patience ran out or the epochs did); a model
   kept at its best validation epoch is not called memorised.
3. overfitting (`ValidationRose`, `GrowingGap`, `Memorised`): the
   validation loss ended at least OVERFIT_RISE above its best epoch while
   the train loss kept falling after it; or the final validation loss
   exceeds the train loss by more than OVERFIT_GAP x S and that gap grew
   since the best epoch; or the train loss fell below MEMORISED x S while
   the validation loss stays more than OVERFIT_GAP x S above it (the
   training set is memorised).
4. unstable (`ValidationZigzag`): the validation loss zigzags (direction
   flips in at least UNSTABLE_FLIP_FRACTION of the epochs, moving more
   than UNSTABLE_VAL_SWING per epoch on average; needs MIN_EPOCHS
   epochs).
5. underfitting (`LittleLearned`): the final train loss is still above
   UNDERFIT_SKILL x S (the model has learned little of what there is to
   learn: a large error overall); or the final validation loss is no
   lower than S (what it learned does not carry to unseen data: a run too
   short for rule 3 can end there).
6. good_fit (`NoProblem`) otherwise.

Then the flags, `FLAG_RULES`: "still improving" (`StillImproving`) joins
any verdict but diverged when the validation loss (the train loss without
one) still fell by more than STILL_IMPROVING_SLOPE per epoch over the last
third (train longer), unless early stopping ended the run.

The advice for the verdict and flags is `advice_for`'s
(analysis/diagnosis_advice.py).
"""

from collections.abc import Mapping, Sequence

from kerastune_lab.analysis.diagnosis import (
    PROBLEMS,
    SEVERITY,
    STILL_IMPROVING,
    VERDICTS,
    Diagnosis,
    majority_verdict,
)
from kerastune_lab.analysis.diagnosis_advice import Change, advice_for
from kerastune_lab.analysis.diagnosis_curves import Curves
from kerastune_lab.analysis.diagnosis_rules import (
    DIVERGE_RATIO,
    MEMORISED,
    MIN_EPOCHS,
    MIN_STEPS,
    OVERFIT_GAP,
    OVERFIT_RISE,
    SPIKE_FRACTION,
    SPIKE_MIN_RISE,
    SPIKE_RATIO,
    SPIKE_WINDOW,
    STILL_IMPROVING_SLOPE,
    UNDERFIT_SKILL,
    UNSTABLE_FLIP_FRACTION,
    UNSTABLE_JUMP,
    UNSTABLE_MIN_RISE,
    UNSTABLE_UP_FRACTION,
    UNSTABLE_VAL_SWING,
    BestEpoch,
    GrowingGap,
    KeptEpoch,
    LastEpochSpike,
    LittleLearned,
    Memorised,
    NonFiniteLoss,
    NoProblem,
    RisingTrainLoss,
    SpikingSteps,
    StillImproving,
    SustainedExplosion,
    ValidationRose,
    ValidationZigzag,
    spike_fraction,
)

# The diagnosis's public names, in one place for its readers (the CLI,
# run reports, study summaries, `improve`).
__all__ = [
    "DIVERGE_RATIO",
    "FLAG_RULES",
    "MEMORISED",
    "MIN_EPOCHS",
    "MIN_STEPS",
    "OVERFIT_GAP",
    "OVERFIT_RISE",
    "PROBLEMS",
    "SEVERITY",
    "SPIKE_FRACTION",
    "SPIKE_MIN_RISE",
    "SPIKE_RATIO",
    "SPIKE_WINDOW",
    "STILL_IMPROVING",
    "STILL_IMPROVING_SLOPE",
    "UNDERFIT_SKILL",
    "UNSTABLE_FLIP_FRACTION",
    "UNSTABLE_JUMP",
    "UNSTABLE_MIN_RISE",
    "UNSTABLE_UP_FRACTION",
    "UNSTABLE_VAL_SWING",
    "VERDICTS",
    "VERDICT_RULES",
    "Change",
    "Curves",
    "Diagnosis",
    "advice_for",
    "diagnose_history",
    "majority_verdict",
    "spike_fraction",
]

VERDICT_RULES = (
    NonFiniteLoss(),
    SustainedExplosion(),
    BestEpoch(),
    RisingTrainLoss(),
    LastEpochSpike(),
    SpikingSteps(),
    KeptEpoch(),
    ValidationRose(),
    GrowingGap(),
    Memorised(),
    ValidationZigzag(),
    LittleLearned(),
    NoProblem(),
)
FLAG_RULES = (StillImproving(),)


def diagnose_history(
    history: Mapping,
    config: Mapping | None = None,
    initial_loss: float | None = None,
    no_skill_loss: float | None = None,
    step_losses: Sequence | None = None,
    knobs: Sequence = (),
) -> Diagnosis:
    """Diagnoses a run from its per-epoch history.

    Args:
        history: Mapping with lists `loss` and `val_loss` (and optionally
            metrics such as `accuracy` / `val_accuracy`), one value per
            epoch.
        config: The run's resolved configuration (config.json "config"),
            used to compute advised values. Optional.
        initial_loss: The first optimizer step's batch loss, if known (a
            run that blows up within its first epoch has a huge epoch-0
            mean already).
        no_skill_loss: The eval loss of a model that learned nothing
            (config.json "no_skill_eval_loss"), if known.
        step_losses: Every step's batch loss (steps.csv), if known.
        knobs: The run's model family's `Knob`s, which the advice may
            move (`ModelFamily.knobs`); none: training keys only.

    Returns:
        A `Diagnosis`.

    Example:

    >>> diagnose_history({"loss": [1.0, 2.0, 4.0, 8.0]}).headline
    'diverged'
    """
    curves = Curves.from_history(
        history, config, initial_loss, no_skill_loss, step_losses
    )
    evidence = {
        "epochs": curves.epochs,
        "first_loss": curves.loss[0],
        "final_loss": curves.loss[-1],
        "reference_loss": curves.scale,
    }
    verdict, findings, curves = _judge(curves)
    flagged = [
        (rule.flag, rule.check(curves))
        for rule in FLAG_RULES
        if verdict in rule.joins
    ]
    findings += [finding for _, finding in flagged]
    for finding in findings:
        evidence.update(finding.evidence)
    flags = [flag for flag, finding in flagged if finding.fired]
    return Diagnosis(
        verdict,
        [finding.reason for finding in findings if finding.reason],
        advice_for(verdict, config, flags, knobs),
        evidence,
        flags,
    )


def _judge(curves):
    """The verdict of the first rule of `VERDICT_RULES` that fires, the
    findings up to it, and the curves it read (the kept model's after
    `KeptEpoch`)."""
    findings = []
    for rule in VERDICT_RULES:
        finding = rule.check(curves)
        findings.append(finding)
        if finding.fired:
            return rule.verdict, findings, curves
        curves = finding.curves or curves
    raise AssertionError("NoProblem, the last rule, fires on any curves.")
