"""The diagnosis's vocabulary: verdicts, their severity, and the result.

A run gets one verdict of `VERDICTS` and maybe flags (`STILL_IMPROVING`).
`SEVERITY` ranks the verdicts worst first:

1. diverged: the run left no usable model, and its other figures mean
   nothing.
2. unstable: the curves themselves cannot be trusted, so a gap or a level
   read from them (overfitting, underfitting) may be noise; the rate or
   batch must be fixed before anything else.
3. overfitting: the model's training figures overstate what it does on
   new data: a result that misleads.
4. underfitting: an honest result, but a weak one.
5. good_fit.

It is the order in which the rules first name each verdict
(`diagnosis_rules.VERDICT_RULES`): a problem checked earlier hides the
ones after it, and its fix comes first.
"""

import collections
import dataclasses
from collections.abc import Iterable

from kerastune_lab.toml_literal import toml_literal

# The verdict of a run that left no usable model: a failed run, counted
# as its figures' worst value wherever runs are compared.
DIVERGED = "diverged"
VERDICTS = ("good_fit", "overfitting", "underfitting", "unstable", DIVERGED)
# The verdicts that name a problem (a study counts them per cell).
PROBLEMS = VERDICTS[1:]
SEVERITY = (DIVERGED, "unstable", "overfitting", "underfitting", "good_fit")
STILL_IMPROVING = "still improving"


def set_text(key: str, value: object) -> str:
    """A change as `--set` takes it, the value as TOML writes it: advice
    holds native values and becomes text only where it is shown.

    Example:

    >>> set_text("train.schedule", "cosine"), set_text("train.lr", 0.003)
    ('train.schedule="cosine"', 'train.lr=0.003')
    """
    return f"{key}={toml_literal(value)}"


@dataclasses.dataclass
class Diagnosis:
    """A verdict on one run, the sentences behind it, and what to change.

    Attributes:
        verdict: One of `VERDICTS`.
        reasons: Sentences citing the run's own figures, in the order the
            rules produced them.
        advice: `{"key", "value", "why", "direction"}` dicts, values
            native (numbers stay numbers in diagnosis.json): the changes
            for this verdict (`diagnosis_advice.advice_for`), shown as
            `--set` arguments by `set_text`.
        evidence: The figures the rules measured, by name.
        flags: Flags that join the verdict, e.g. `STILL_IMPROVING`.

    Example:

    >>> diagnosis = Diagnosis("good_fit", ["low loss"], [], {},
    ...                       ["still improving"])
    >>> diagnosis.headline
    'good_fit, still improving'
    """

    verdict: str
    reasons: list
    advice: list
    evidence: dict
    flags: list = dataclasses.field(default_factory=list)

    @property
    def headline(self) -> str:
        """ "good_fit" or "good_fit, still improving": the first line."""
        return ", ".join([self.verdict, *self.flags])

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_text(self) -> str:
        lines = [self.headline]
        lines += [f"- {reason}" for reason in self.reasons]
        if self.advice:
            lines.append("Advice:")
            lines += [
                f"- --set {set_text(a['key'], a['value'])}  ({a['why']})"
                for a in self.advice
            ]
        return "\n".join(lines)


def majority_verdict(verdicts: Iterable[str]) -> str:
    """The verdict most of several runs (seeds) share; ties go to the
    worse verdict (`SEVERITY`).

    Args:
        verdicts: One verdict per run, each of `VERDICTS`.

    Returns:
        The most common verdict.

    Example:

    >>> majority_verdict(["good_fit", "overfitting", "good_fit"])
    'good_fit'
    >>> majority_verdict(["good_fit", "overfitting"])
    'overfitting'
    """
    verdicts = list(verdicts)
    if not verdicts or not set(verdicts) <= set(VERDICTS):
        raise ValueError(
            f"`verdicts` must be one or more of {VERDICTS}. Received: "
            f"verdicts={verdicts!r}"
        )
    counts = collections.Counter(verdicts)
    return max(counts, key=lambda v: (counts[v], -SEVERITY.index(v)))
