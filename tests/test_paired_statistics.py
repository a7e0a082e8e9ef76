"""The comparison statistics against simulated studies and scipy.

The simulations have the default study's shape: schedules constant,
linear, cosine x modes none, sd, sd2 plus the matched-rate controls
none_at_sd_rate and none_at_sd2_rate, 5 or 10 seeds, and the four primary
contrasts of the study file, pooled over schedules. Every run shares its
seed's effect and its seed-and-schedule effect with the other modes (same
initialisation and data order); its own noise differs between cells.
"""

import doctest
import itertools
import math

import numpy as np
import pytest
from scipy import stats

from kerastune_lab.reports.report_answer import answer_lines
from kerastune_lab.statistics import (
    contrast_tests,
    failures,
    paired_tests,
    power_plan,
)
from kerastune_lab.statistics.contrast_tests import (
    PAIRED_T,
    SIGNED_RANK,
    detectable_difference,
    hodges_lehmann,
    min_exact_p,
    paired_contrast_tests,
    paired_t,
    seeds_to_detect,
    signed_rank_p,
    tost,
)
from kerastune_lab.statistics.mean_factor import mean_factor
from kerastune_lab.statistics.paired_tests import (
    Comparison,
    holm,
    paired_comparisons,
)
from kerastune_lab.study.analysis_config import AnalysisConfig
from kerastune_lab.study.grid import Cell

FIGURE = "final_eval_loss"
SCHEDULES = ("constant", "linear", "cosine")
MODES = ("none", "sd", "sd2", "none_at_sd_rate", "none_at_sd2_rate")
PRIMARY = (("sd", "none"), ("sd2", "none"))
PRIMARY += (("sd", "none_at_sd_rate"), ("sd2", "none_at_sd2_rate"))
ANALYSIS = AnalysisConfig(
    primary=[f"lr_adapt.mode: {a} vs {b}" for a, b in PRIMARY],
    pool_over=["train.schedule"],
)
AXES = {"train.schedule": list(SCHEDULES), "lr_adapt.mode": list(MODES)}
NO_SKILL = 4.946
LEARNED = 4.3  # 6 noise SDs below the plateau: learned runs stay learned
# Each cell's own noise SD (SD cells noisier than plain ones).
NOISE = np.array([[0.03, 0.05, 0.06, 0.03, 0.04]] * 3)  # schedule x mode


def simulate(rng, studies, seeds, fail=0.0, effects=None):
    """(values, failed): (studies, schedule, mode, seed) final eval losses
    and failure flags. A run fails with probability `fail` whatever its
    arm, and then sits on the no-skill plateau (bimodal outcomes)."""
    shape = (studies, len(SCHEDULES), len(MODES), seeds)
    values = (
        LEARNED
        + rng.normal(0, 0.08, (studies, 1, 1, seeds))  # the seed's effect
        + rng.normal(0, 0.04, (studies, len(SCHEDULES), 1, seeds))
        + rng.normal(0, 1, shape) * NOISE[None, :, :, None]
    )
    for mode, effect in (effects or {}).items():
        values[:, :, MODES.index(mode)] += effect
    plateau = rng.random(shape) < fail
    values = np.where(plateau, NO_SKILL + rng.gamma(2, 0.02, shape), values)
    return values, values >= NO_SKILL  # the failure rule


def primary_differences(values, failed):
    """(diffs (studies, 4, seeds), failed (studies, 4)): the primary
    contrasts, pooled over schedules, from simulated arrays."""
    diffs, fails = [], []
    for level, baseline in PRIMARY:
        a, b = MODES.index(level), MODES.index(baseline)
        diffs.append((values[:, :, a] - values[:, :, b]).mean(axis=1))
        fails.append(failed[:, :, [a, b]].any(axis=(1, 2, 3)))
    return np.stack(diffs, axis=1), np.stack(fails, axis=1)


def family_verdicts(diffs, failed, alpha=0.05):
    """Real (studies, 4) under the primary family's procedure: the test
    each contrast fits, Holm over the four."""
    tests = paired_contrast_tests(diffs, failed, 1 - alpha / diffs.shape[1])
    return holm(tests.p, axis=-1) < alpha, tests


def as_runs(values, study=0):
    """One simulated study as compare's {cell: {seed: run}}."""
    runs = {}
    for (i, schedule), (j, mode) in itertools.product(
        enumerate(SCHEDULES), enumerate(MODES)
    ):
        cell = Cell((("train.schedule", schedule), ("lr_adapt.mode", mode)))
        runs[cell] = {
            42 + s: {
                "figures": {FIGURE: float(v)},
                "no_skill_eval_loss": NO_SKILL,
                "verdict": "good_fit",
            }
            for s, v in enumerate(values[study, i, j])
        }
    return runs


def test_the_simulation_runs_what_compare_runs():
    """The vectorised family of the simulations gives the p-values and
    verdicts paired_comparisons gives on the same studies, in both
    branches (so the simulations below test the code that runs)."""
    rng = np.random.default_rng(11)
    values, failed = simulate(rng, 6, 6, fail=0.05, effects={"sd2": -0.08})
    diffs, fails = primary_differences(values, failed)
    real, tests = family_verdicts(diffs, fails)
    assert set(tests.test.ravel()) == {PAIRED_T, SIGNED_RANK}
    for study in range(6):
        comparisons = paired_comparisons(
            as_runs(values, study), AXES, ANALYSIS
        )
        primary = comparisons[:4]
        assert [(c.level, c.baseline) for c in primary] == list(PRIMARY)
        assert all(c.role == "primary" for c in primary)
        assert all(c.role == "exploratory" for c in comparisons[4:])
        assert [c.p for c in primary] == pytest.approx(list(tests.p[study]))
        assert [c.real for c in primary] == list(real[study])
        assert [c.test for c in primary] == list(tests.test[study])


SE_LIMIT = 2  # simulation standard errors above alpha allowed


@pytest.mark.parametrize(
    "seeds, fail, exact_share",
    [
        (5, 0.0, (0.0, 0.0)),  # normal noise: the t-test throughout
        (5, 0.1, (0.9, 1.0)),  # bimodal: mostly the exact test
        (10, 0.1, (0.9, 1.0)),  # ... where it can reject at all
        (10, 0.01, (0.3, 0.7)),  # both branches
    ],
)
def test_null_studies_keep_the_family_wise_error_rate(
    seeds, fail, exact_share
):
    """2,000 null studies (no mode changes anything; runs fail at the same
    rate in every arm): the share with any primary contrast called real
    stays at alpha (0.05) plus two simulation standard errors."""
    rng = np.random.default_rng(seeds * 100 + int(fail * 1000))
    studies = 2000
    diffs, failed = primary_differences(*simulate(rng, studies, seeds, fail))
    real, tests = family_verdicts(diffs, failed)
    share = np.mean(tests.test == SIGNED_RANK)
    assert exact_share[0] <= share <= exact_share[1], share
    rate = real.any(axis=1).mean()
    assert rate <= 0.05 + SE_LIMIT * math.sqrt(0.05 * 0.95 / studies), rate


def test_uncorrected_tests_would_not_keep_it():
    """The same null studies tested at 0.05 each, without Holm: the
    family-wise rate is far above 0.05, so the simulation can fail."""
    rng = np.random.default_rng(1)
    diffs, failed = primary_differences(*simulate(rng, 2000, 5))
    tests = paired_contrast_tests(diffs, failed)
    assert (tests.p < 0.05).any(axis=1).mean() > 0.1


def test_the_exact_test_finds_a_bimodal_effect_with_enough_seeds():
    """With 10% of runs failing, SD2 learning better by 0.2 nat: where the
    exact test decides sd2 vs none it never calls it real at 5 seeds (its
    smallest p, 0.0625, is above Holm's first threshold 0.0125) and does
    in about half the studies at 10 (measured 0.49 with this seed)."""
    rng = np.random.default_rng(5)
    for seeds, low, high in ((5, 0.0, 0.0), (10, 0.35, 0.65)):
        values, failed = simulate(rng, 400, seeds, 0.1, {"sd2": -0.2})
        real, tests = family_verdicts(*primary_differences(values, failed))
        exact = tests.test[:, 1] == SIGNED_RANK
        assert exact.mean() > 0.9
        found = real[exact, 1].mean()
        assert low <= found <= high, (seeds, found)


def test_the_stated_power_holds_at_the_stated_effect():
    """Plant exactly the detectable difference the protocol states (from
    the true SD of the pooled differences as pilot_sd) in one primary
    contrast; the t-test branch with Holm over 4 finds it in 80% of the
    studies (within two simulation standard errors)."""
    seeds, studies = 5, 4000
    level, baseline = MODES.index("sd"), MODES.index("none_at_sd_rate")
    # Var of a mean over 3 schedules of differences of independent noises.
    sd = math.sqrt((NOISE[:, level] ** 2 + NOISE[:, baseline] ** 2).sum() / 9)
    plan = power_plan.power_plan(seeds, 4, 0.05, pilot_sd=sd)
    rng = np.random.default_rng(8)
    values, failed = simulate(
        rng, studies, seeds, effects={"none_at_sd_rate": plan.detectable}
    )
    real, tests = family_verdicts(*primary_differences(values, failed))
    assert set(tests.test.ravel()) == {PAIRED_T}
    power = real[:, 2].mean()
    assert abs(power - 0.8) <= 2 * math.sqrt(0.8 * 0.2 / studies), power


def test_signed_rank_p_is_scipys_exact_wilcoxon():
    rng = np.random.default_rng(2)
    for n in (3, 5, 8, 12):
        diffs = rng.normal(0.3, 1, n)
        for alternative in ("two-sided", "greater", "less"):
            assert signed_rank_p(diffs, alternative) == pytest.approx(
                stats.wilcoxon(
                    diffs, method="exact", alternative=alternative
                ).pvalue
            )


def _positive_rank_sum(x, axis=-1):
    ranks = stats.rankdata(np.abs(x), axis=axis)
    return np.sum(np.where(x > 0, ranks, 0), axis=axis)


@pytest.mark.parametrize(
    "diffs",
    [
        [0.1, -0.1, 0.3, 0.3, 0.5, -0.2],  # ties
        [0.0, 0.2, -0.4, 0.4, 0.7, 0.9, 0.0],  # zeros (Pratt) and ties
        [np.inf, 0.2, -0.3, 0.4, 0.1, np.inf, -np.inf],  # diverged runs
    ],
)
def test_signed_rank_p_is_the_sign_flip_permutation_p(diffs):
    """Ties, zeros and infinite differences: the exact p equals scipy's
    permutation test over all 2^n sign flips of the signed-rank sum."""
    diffs = np.asarray(diffs)
    for alternative in ("two-sided", "greater", "less"):
        expected = stats.permutation_test(
            (diffs,),
            _positive_rank_sum,
            permutation_type="samples",
            alternative=alternative,
            n_resamples=np.inf,
        ).pvalue
        assert signed_rank_p(diffs, alternative) == pytest.approx(expected)


def test_min_exact_p_is_the_best_a_sign_flip_test_can_do():
    for n in (3, 5, 8):
        assert signed_rank_p(np.arange(1.0, n + 1)) == pytest.approx(
            min_exact_p(n)
        )
    assert min_exact_p(5) == 0.0625 and min_exact_p(8) < 0.0125


def test_hodges_lehmann_interval_inverts_scipys_wilcoxon():
    """Just inside the exact 95% interval the test of d - delta does not
    reject at 0.05; just outside it does."""
    rng = np.random.default_rng(4)
    diffs = rng.normal(0.5, 1, 9)
    estimate, low, high, p_value = hodges_lehmann(diffs, 0.95)
    assert low < estimate < high
    assert p_value == pytest.approx(stats.wilcoxon(diffs).pvalue)
    eps = 1e-9

    def p(delta):
        return stats.wilcoxon(diffs - delta, method="exact").pvalue

    assert p(low - eps) <= 0.05 < p(low + eps)
    assert p(high + eps) <= 0.05 < p(high - eps)
    walsh = [(diffs[i] + diffs[j]) / 2 for i in range(9) for j in range(i, 9)]
    assert estimate == pytest.approx(np.median(walsh))


def test_hodges_lehmann_interval_is_unbounded_where_no_n_can_bound_it():
    # 5 seeds: the widest exact interval, [min, max], has 1 - 2/32 =
    # 93.75% confidence, below the 98.75% of 4 Bonferroni intervals.
    diffs = [0.1, -0.2, 0.3, 0.5, 0.2]
    assert hodges_lehmann(diffs, 0.9375)[1:3] == (-0.2, 0.5)
    assert hodges_lehmann(diffs, 0.9875)[1:3] == (-math.inf, math.inf)
    # A diverged run ranks last; the estimate stays finite.
    estimate, *_ = hodges_lehmann([0.1, -0.2, 0.3, 0.5, np.inf], 0.9)
    assert math.isfinite(estimate)


# The review's counterexamples (statistics.md): the interval from the
# untied null (zeros counted in n) and the p from Pratt's null disagreed.
COUNTEREXAMPLES = [
    # 3 contrasts: p 0.0156 <= 0.05 / 3, yet the interval was [0, inf).
    ([np.inf, 0.7, 2.1, 2.3, 1.2, 1.7, -0.1, 1.8, 0.0], 3),
    # 1 contrast: the interval was (0.1, inf), yet p 0.051.
    ([np.inf, np.inf, 1.5, 0.1, 0.5, 0.3, 0.5, -1.6, 0.5, 0.2], 1),
]


@pytest.mark.parametrize("diffs, m", COUNTEREXAMPLES)
def test_interval_and_p_of_the_exact_test_agree_on_the_counterexamples(
    diffs, m
):
    tests = paired_contrast_tests([diffs], [True], 1 - 0.05 / m)
    p, low = float(tests.p[0]), float(tests.low[0])
    assert p == pytest.approx(signed_rank_p(diffs))  # Pratt's p, as before
    real = p <= 0.05 / m
    if m == 3:
        # Real; the lower end is the Walsh average 0, which the test
        # rejects itself: the interval is (0, inf), 0 excluded.
        assert real and low == 0.0
        assert signed_rank_p(np.asarray(diffs) - 0.0) <= 0.05 / 3
    else:
        assert not real and low < 0 < tests.high[0]


def primary_family(diff_lists, failed):
    """Primary `Comparison`s of `diff_lists`, tested as one Holm family
    as `paired_comparisons` tests them."""
    family = [
        Comparison(
            paired_tests.PRIMARY,
            "mode",
            f"m{i}",
            "none",
            (),
            (),
            FIGURE,
            list(diffs),
            failed_runs,
        )
        for i, (diffs, failed_runs) in enumerate(zip(diff_lists, failed))
    ]
    paired_tests._test_primary(family, AnalysisConfig())
    return family


def test_the_sentence_agrees_with_the_interval_on_the_counterexample():
    """statistics.md's counterexample among 3 primaries: p 0.0156 <=
    0.05 / 3, and the 98.33% interval's lower end is 0, which the test
    rejects: real, the interval open at 0, and no clause saying the
    interval still reaches 0."""
    diffs, _ = COUNTEREXAMPLES[0]
    noise = [[0.1, -0.2, 0.3, 0.05, -0.1, 0.2, 0.0, 0.1, -0.3]] * 2
    family = primary_family([diffs, *noise], [1, 0, 0])
    c = family[0]
    assert c.real and c.ci[0] == 0.0 and c.p <= 0.05 / 3
    assert c.excludes_zero and c.interval_text() == "(+0, +inf)"
    sentence = c.sentence()
    assert "interval (+0, +inf), 0 excluded (the test rejects it)" in sentence
    assert "still reaches 0" not in sentence
    # The report's Answer writes the same interval.
    plan = power_plan.power_plan(9, 3, 0.05, diff_lists=noise)
    answer, _ = answer_lines(AnalysisConfig(), {"mode": []}, family, [], plan)
    assert "by 1.5 (interval (+0, +inf), 9 seeds)" in "\n".join(answer)


def test_a_step_down_verdict_says_its_interval_reaches_zero():
    """Holm rejects the third comparison at its last step (p 0.03 <
    0.05) while its Bonferroni interval at 1 - 0.05 / 3 still holds 0:
    the sentence says why both are right."""
    rng = np.random.default_rng(5)
    base = rng.normal(0, 1, 6)
    base = (base - base.mean()) / base.std(ddof=1)
    strong = [list(-1.0 + 0.1 * base), list(-1.2 + 0.1 * base)]
    # SD 1 and mean -t / sqrt(6): its two-sided p is exactly 0.03.
    t = stats.t.ppf(1 - 0.03 / 2, 5)
    weak = list(-t / math.sqrt(6) + base)
    family = primary_family([*strong, weak], [0, 0, 0])
    last = family[2]
    assert last.p == pytest.approx(0.03)
    assert last.real and not last.excludes_zero
    assert last.ci[0] < 0 < last.ci[1]
    assert "which still reaches 0" in last.sentence()
    assert all("still reaches 0" not in c.sentence() for c in family[:2])


def _excludes_zero(low, high, p, level):
    """Whether 0 lies outside the interval, an end at exactly 0 counting
    as excluded where the test rejects 0 itself (`hodges_lehmann`)."""
    if low == 0 or high == 0:
        return p <= level
    return not low < 0 < high


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_exact_interval_excludes_zero_exactly_where_p_is_below_the_level(
    alternative,
):
    """Random differences with ties, zeros and diverged runs, 3 to 10
    seeds: the interval and the p come from one null, so they always
    agree; and the p is Pratt's (scipy's exact signed-rank p)."""
    rng = np.random.default_rng(12)
    for case in range(600):
        diffs = np.round(rng.normal(0.4, 1, rng.integers(3, 11)), 1)
        if case % 3 == 0:
            diffs[0] = np.inf
        if case % 4 == 0:
            diffs[1] = 0.0
        level = (0.05, 0.1, 0.2)[case % 3]
        _, low, high, p = hodges_lehmann(diffs, 1 - level, alternative)
        assert p == pytest.approx(signed_rank_p(diffs, alternative))
        assert _excludes_zero(low, high, p, level) == (p <= level), diffs
        if alternative == "less":
            assert low == -math.inf
        if alternative == "greater":
            assert high == math.inf


def test_one_sided_t_is_scipys_one_sided_test_with_its_bound():
    rng = np.random.default_rng(13)
    diffs = rng.normal(-0.3, 0.4, (5, 6))
    _, low, high, p = paired_t(diffs, 0.95, "less")
    for row in range(5):
        reference = stats.ttest_1samp(diffs[row], 0.0, alternative="less")
        bound = reference.confidence_interval(0.95)
        assert p[row] == pytest.approx(reference.pvalue)
        assert low[row] == -math.inf
        assert high[row] == pytest.approx(bound.high)
        assert (high[row] < 0) == (p[row] < 0.05)
    assert min_exact_p(5, "less") == 1 / 32


def test_paired_t_is_scipys_paired_test():
    rng = np.random.default_rng(3)
    level, baseline = rng.normal(1, 1, (2, 4, 6))
    _, low, high, p = paired_t(level - baseline, 0.99)
    for row in range(4):
        result = stats.ttest_rel(level[row], baseline[row])
        interval = result.confidence_interval(0.99)
        assert p[row] == pytest.approx(result.pvalue)
        assert (low[row], high[row]) == pytest.approx(
            (interval.low, interval.high)
        )
    # Identical differences: no noise to test against.
    assert paired_t([[0.2, 0.2, 0.2]])[3][0] == 0.0
    assert paired_t([[0.0, 0.0, 0.0]])[3][0] == 1.0


def test_tost_rejects_exactly_when_the_90_percent_interval_fits():
    """TOST at 0.05 is the 90% t interval lying inside (-margin, margin)."""
    rng = np.random.default_rng(6)
    agree = 0
    for _ in range(200):
        diffs = rng.normal(rng.uniform(-0.1, 0.1), 0.05, 6)
        low, high = stats.ttest_1samp(diffs, 0).confidence_interval(0.9)
        inside = low > -0.08 and high < 0.08
        agree += (tost(diffs, 0.08, exact=False) < 0.05) == inside
    assert agree == 200


def test_exact_tost_needs_every_seed_inside_the_margin_at_five_seeds():
    # One-sided exact p at 5 seeds is at least 1/32 = 0.031: TOST at
    # 0.05 rejects only when all 5 differences lie within the margin.
    assert tost([0.01, -0.02, 0.0, 0.03, -0.01], 0.05, exact=True) < 0.05
    assert tost([0.01, -0.02, 0.0, 0.09, -0.01], 0.05, exact=True) > 0.05


def test_test_contrasts_picks_the_branch_by_failures_and_finiteness():
    diffs = np.array([[0.1, 0.2, 0.3], [0.1, 0.2, 0.3], [0.1, np.inf, 0.3]])
    tests = paired_contrast_tests(diffs, np.array([False, True, False]))
    assert list(tests.test) == [PAIRED_T, SIGNED_RANK, SIGNED_RANK]
    assert tests.min_p[0] == 0 and tests.min_p[1] == 0.25


def test_holm_against_its_definition():
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    # Sorted: 0.005, 0.01, 0.03, 0.04, 0.5 times 5, 4, 3, 2, 1, running max.
    expected = {0.005: 0.025, 0.01: 0.04, 0.03: 0.09, 0.04: 0.09, 0.5: 0.5}
    assert list(holm(p)) == pytest.approx([expected[v] for v in p])
    # Along an axis: each row on its own.
    rows = holm([p, p[::-1]], axis=-1)
    assert list(rows[1]) == pytest.approx([expected[v] for v in p[::-1]])


def test_detectable_difference_is_the_power_formula():
    """At the detectable difference the paired t-test has power 0.8."""
    sd, n, alpha = 0.2, 5, 0.05 / 18
    delta = detectable_difference(sd, n, alpha)
    critical = stats.t.ppf(1 - alpha / 2, n - 1)
    ncp = delta / (sd / math.sqrt(n))
    power = stats.nct.sf(critical, n - 1, ncp)
    assert power == pytest.approx(0.8, abs=1e-6)
    # And by simulation (independent of the noncentral t).
    rng = np.random.default_rng(0)
    diffs = rng.normal(delta, sd, size=(4000, n))
    p = stats.ttest_1samp(diffs, 0.0, axis=1).pvalue
    assert abs(np.mean(p < alpha) - 0.8) < 0.04


def test_seeds_to_detect_is_the_fewest():
    effect, sd, alpha = 0.05, 0.1, 0.0125
    n = seeds_to_detect(effect, sd, alpha)
    assert detectable_difference(sd, n, alpha) <= effect
    assert detectable_difference(sd, n - 1, alpha) > effect
    # The rule of thumb n ~ ((z_a + z_b) / d_z)^2 for large n.
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(0.8)
    assert n == pytest.approx((z * sd / effect) ** 2, rel=0.1)


def test_power_plan_states_the_range_of_an_estimated_sd():
    # Measured in statistics.md: from 3 seeds the true SD is 0.52x to
    # 6.3x the observed one (95%).
    plan = power_plan.power_plan(3, 4, 0.05, diff_lists=[[0.1, 0.2, 0.4]])
    assert plan.sd_source == "study"
    assert plan.sd_range == pytest.approx((0.52, 6.28), abs=0.01)
    assert plan.sd == pytest.approx(np.std([0.1, 0.2, 0.4], ddof=1))
    assert plan.exact_seeds == 8  # 2 / 2^8 <= 0.05 / 4 < 2 / 2^7


def test_mean_factor_weights_by_the_scheduled_rate():
    # Scheduled rates 1, 0.5, 0 (decaying) with factors 2, 4, 100: each
    # step counts by its scheduled rate, so the last moves nothing and the
    # matched factor is (1 x 2 + 0.5 x 4) / (1 + 0.5) = 8/3, not the mean
    # of the factors (35.3) nor of the factors where the rate was > 0 (3).
    steps = {"lr": [2.0, 2.0, 0.0], "factor": [2.0, 4.0, 100.0]}
    assert mean_factor(steps) == pytest.approx(8 / 3)


@pytest.mark.parametrize("module", [contrast_tests, failures, power_plan])
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
