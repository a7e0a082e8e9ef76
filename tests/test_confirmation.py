"""The confirmation of `improve` in words: what each look is tested at,
why a look could not confirm, which runs failed, against scipy."""

import math
import types

import numpy as np
import pytest
from scipy import stats

from kerastune_lab.improvement.confirmation import Confirmation
from kerastune_lab.improvement.confirmation_looks import ConfirmationLooks
from kerastune_lab.improvement.objective import Objective
from kerastune_lab.reports.confirmation_words import (
    confirmation_sentence,
    confirmation_summary,
)

LOSS = Objective("val_loss", "min")


def runs(losses, diverged=()):
    """{seed: (metrics.json, diverged)} with test_loss `losses[seed]`."""
    return {
        seed: ({"test_loss": value}, seed in diverged)
        for seed, value in losses.items()
    }


def result_of(confirmation):
    """The parts of an `ImprovementResult` the sentences read."""
    return types.SimpleNamespace(adopted=[object()], confirmation=confirmation)


# Final - original on 8 seeds: one-sided paired t p between 0.025 and
# 0.05 (checked against scipy below).
ORIGINAL = {s: 1.0 + 0.1 * s for s in range(6, 14)}
DIFFS = [-0.12, -0.08, 0.03, -0.2, 0.02, -0.1, -0.04, 0.01]
FINAL = {s: ORIGINAL[s] + d for s, d in zip(ORIGINAL, DIFFS)}


def test_a_second_look_is_tested_at_half_alpha():
    reference = stats.ttest_1samp(DIFFS, 0.0, alternative="less")
    assert 0.025 < reference.pvalue < 0.05
    one = Confirmation(LOSS, runs(ORIGINAL), runs(FINAL))
    assert one.alpha == 0.05 and one.look == 1 and one.confirmed
    second = Confirmation(
        LOSS, runs(ORIGINAL), runs(FINAL), ConfirmationLooks((5, 8))
    )
    assert second.alpha == 0.025 and second.look == 2
    assert second.test.p == pytest.approx(reference.pvalue)
    assert not second.confirmed
    # Its bound is the one-sided 97.5% bound, matching its level.
    bound = reference.confidence_interval(0.975).high
    assert second.test.ci[1] == pytest.approx(bound)
    sentence = confirmation_sentence(result_of(second))
    assert sentence.startswith("Not confirmed on 8 fresh seeds (6-13)")
    assert f"one-sided 97.5% bound {bound:+.3g}" in sentence
    assert "at alpha 0.025 (look 2 of 2: alpha 0.05 / 2" in sentence
    # Look 1 used the first 5 seeds.
    early = stats.ttest_1samp(DIFFS[:5], 0.0, alternative="less").pvalue
    assert f"look 1, 5 seeds: p {early:.2g})" in sentence
    assert "look 3 is tested at alpha 0.05 / 3 = 0.0167" in sentence
    assert confirmation_summary(result_of(second)).endswith(
        "at alpha 0.025 (look 2 of 2, Bonferroni over the looks)"
    )


def test_a_look_that_could_never_confirm_says_so():
    """The original diverged on fresh seed 8 of 4: the exact signed-rank
    test decides, and over 4 seeds it cannot give p below 1/16 = 0.0625
    > 0.05, whatever the runs. The sentence names the failed run, the
    floor and the seeds that can (6: 1/64 below the next look's 0.025),
    and does not advise keeping the failing original."""
    original = {6: 1.0, 7: 1.1, 8: 1.2, 9: 0.9}
    final = {s: v - 0.3 for s, v in original.items()}
    confirmation = Confirmation(LOSS, runs(original, {8}), runs(final))
    assert confirmation.test.test == "exact signed-rank"
    assert confirmation.test.p == pytest.approx(1 / 16)
    assert confirmation.exact_floor == pytest.approx(1 / 16)
    assert not confirmation.could_confirm and not confirmation.confirmed
    assert confirmation.failed_seeds("original") == [8]
    sentence = confirmation_sentence(result_of(confirmation))
    assert "the original failed on fresh seed(s) 8" in sentence
    assert (
        "over these 4 compared seeds it cannot give p below 0.0625, above "
        "alpha 0.05: this look could not have confirmed any gain; "
        "--confirm-seeds 6 or more can"
    ) in sentence
    assert "keep the original" not in sentence
    assert "more fresh seeds can decide" in sentence
    assert confirmation_summary(result_of(confirmation)).endswith(
        "(the exact test cannot go below p 0.0625 over these seeds: use "
        "--confirm-seeds 6)"
    )


def test_a_failed_final_run_is_never_confirmed_and_named():
    original = {s: 1.0 + 0.01 * s for s in range(6, 16)}
    final = {s: v - 0.3 - 0.01 * s for s, v in original.items()}
    final[9] = math.nan
    confirmation = Confirmation(LOSS, runs(original), runs(final, {9}))
    # Nine of ten seeds better, one failed (ranked last): scipy's exact
    # p below alpha, yet a configuration whose runs fail is not
    # confirmed.
    diffs = [final[s] - original[s] for s in original if s != 9] + [1e9]
    reference = stats.wilcoxon(diffs, alternative="less", method="exact")
    assert confirmation.test.p == pytest.approx(reference.pvalue)
    assert confirmation.test.p < 0.05 and not confirmation.confirmed
    sentence = confirmation_sentence(result_of(confirmation))
    assert "the final configuration failed on fresh seed(s) 9" in sentence
    assert "keep the original unless a further look shows it" in sentence


def test_not_confirmed_states_what_the_seeds_could_detect():
    """A t-test look: the improvement detected with probability 0.8,
    one-sided at alpha, from the SD of these differences."""
    rng = np.random.default_rng(3)
    original = {s: 1.0 + rng.normal(0, 0.3) for s in range(6, 11)}
    diffs = rng.normal(0.0, 0.05, 5)
    final = {s: original[s] + d for s, d in zip(original, diffs)}
    confirmation = Confirmation(LOSS, runs(original), runs(final))
    sd = np.std(diffs, ddof=1)
    critical = stats.t.ppf(0.95, 4)
    ncp = confirmation.test.detectable / (sd / math.sqrt(5))
    assert stats.nct.sf(critical, 4, ncp) == pytest.approx(0.8, abs=1e-4)
    sentence = confirmation_sentence(result_of(confirmation))
    assert (
        f"these 5 fresh seeds detect an improvement of "
        f"{confirmation.test.detectable:.3g} with probability 0.8"
    ) in sentence
