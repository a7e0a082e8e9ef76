"""The verdict of a configuration from its seeds' verdicts."""

import pytest

from kerastune_lab.analysis.diagnosis import (
    SEVERITY,
    VERDICTS,
    majority_verdict,
)


@pytest.mark.parametrize(
    "verdicts, expected",
    [
        (["overfitting"], "overfitting"),
        # The most common verdict wins, however mild.
        (["diverged", "good_fit", "good_fit"], "good_fit"),
        (["unstable", "underfitting", "underfitting"], "underfitting"),
        # Ties go to the worse verdict.
        (["good_fit", "diverged"], "diverged"),
        (["diverged", "unstable"], "diverged"),
        (["overfitting", "unstable"], "unstable"),
        (["underfitting", "overfitting"], "overfitting"),
        (["good_fit", "underfitting"], "underfitting"),
        (
            ["good_fit", "overfitting", "unstable", "overfitting", "unstable"],
            "unstable",
        ),
    ],
)
def test_majority_verdict(verdicts, expected):
    assert majority_verdict(verdicts) == expected
    assert majority_verdict(reversed(verdicts)) == expected


@pytest.mark.parametrize("verdicts", [[], ["good_fit", "great"]])
def test_majority_verdict_rejects_bad_input(verdicts):
    with pytest.raises(ValueError, match="Received: verdicts="):
        majority_verdict(verdicts)


def test_severity_ranks_every_verdict_once():
    assert sorted(SEVERITY) == sorted(VERDICTS)
    assert SEVERITY[0] == "diverged" and SEVERITY[-1] == "good_fit"
