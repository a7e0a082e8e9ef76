"""The comparison statistics against simulated studies and scipy."""

import math

import numpy as np
import pytest
from scipy import stats

from kerastune_lab.comparison.grid import Cell, expand_grid
from kerastune_lab.comparison.paired_tests import (
    detectable_difference,
    holm,
    paired_comparisons,
)
from kerastune_lab.comparison.run_comparison import DEFAULT_STUDY
from kerastune_lab.comparison.study_controls import (
    first_stage_cells,
    matched_level,
    mean_factor,
    study_axes,
)
from kerastune_lab.config import load_experiment

FIGURE = "final_eval_loss"


def default_study_cells():
    """The default study's cells and axes (grid, schedule-free cell and
    matched-rate controls), as `compare` lays them out."""
    config = load_experiment(DEFAULT_STUDY)
    axes = study_axes(config)
    cells = first_stage_cells(config)
    for mode in config.controls.matched_rate:
        cells += [
            Cell(
                tuple(
                    (k, matched_level(mode) if v == mode else v)
                    for k, v in cell.values
                )
            )
            for cell in expand_grid(config.grid)
            if dict(cell.values)["lr_adapt.mode"] == mode
        ]
    return cells, axes


def simulated_runs(cells, seeds, rng, effects=None):
    """Final eval losses with realistic seed noise: a seed effect shared by
    every cell (same initialisation and data order), and per-run noise
    whose size differs between cells (SD cells are noisier than others)."""
    effects = effects or {}
    seed_effect = rng.normal(0.0, 0.3, size=seeds)
    runs = {}
    for i, cell in enumerate(cells):
        scale = 0.05 * (1 + i % 4)
        values = (
            5.0
            + effects.get(cell, 0.0)
            + seed_effect
            + rng.normal(0.0, scale, size=seeds)
        )
        runs[cell] = {
            42 + s: {"figures": {FIGURE: float(v)}}
            for s, v in enumerate(values)
        }
    return runs


@pytest.mark.parametrize("seeds", [3, 5])
def test_null_studies_keep_the_family_wise_error_rate(seeds):
    """400 studies of the default grid's shape with no true effect: the
    share that reports any difference as real stays at alpha (0.05) plus
    two simulation standard errors."""
    cells, axes = default_study_cells()
    assert len(cells) == 13
    rng = np.random.default_rng(seeds)
    studies = 400
    false_positive_studies = 0
    for _ in range(studies):
        comparisons = paired_comparisons(
            simulated_runs(cells, seeds, rng), axes
        )
        assert len(comparisons) == 33
        false_positive_studies += any(c.real for c in comparisons)
    rate = false_positive_studies / studies
    assert rate <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / studies), rate


def test_uncorrected_tests_would_not_keep_it():
    """The same null studies tested at 0.05 each, without Holm, report a
    'real' difference in most studies: the correction is what keeps the
    claim honest (a check that the simulation can fail)."""
    cells, axes = default_study_cells()
    rng = np.random.default_rng(1)
    hits = sum(
        any(
            c.p < 0.05
            for c in paired_comparisons(simulated_runs(cells, 5, rng), axes)
        )
        for _ in range(100)
    )
    assert hits > 40


def test_a_planted_effect_of_two_noise_sds_is_found_with_five_seeds():
    """One axis, two levels, 5 seeds; the level's loss is lower by twice
    the SD of the per-seed paired differences (d_z = 2). Expected power of
    the paired t-test: 0.91; required: 0.8 in at least 80% of 400 studies."""
    rng = np.random.default_rng(7)
    base, level = (
        Cell((("lr_adapt.mode", "none"),)),
        Cell((("lr_adapt.mode", "sd2"),)),
    )
    axes = {"lr_adapt.mode": ["none", "sd2"]}
    noise = 0.1  # SD of each run's own noise; paired differences: 0.1 * sqrt 2
    found = 0
    for _ in range(400):
        shared = rng.normal(0, 0.3, size=5)
        runs = {
            base: {
                s: {"figures": {FIGURE: 5 + shared[s] + rng.normal(0, noise)}}
                for s in range(5)
            },
            level: {
                s: {
                    "figures": {
                        FIGURE: 5
                        - 2 * noise * math.sqrt(2)
                        + shared[s]
                        + rng.normal(0, noise)
                    }
                }
                for s in range(5)
            },
        }
        (comparison,) = paired_comparisons(runs, axes)
        found += comparison.real and comparison.mean_diff < 0
    assert found / 400 >= 0.8, found


def test_every_pair_of_levels_is_compared_with_scipy_numbers():
    cells, axes = default_study_cells()
    runs = simulated_runs(cells, 4, np.random.default_rng(3))
    comparisons = paired_comparisons(runs, axes)
    pairs = {(c.axis, c.baseline, c.level) for c in comparisons}
    # SD is compared with SD2, and SD2 with its matched-rate control.
    assert ("lr_adapt.mode", "sd", "sd2") in pairs
    assert ("lr_adapt.mode", "sd2", "none_at_sd2_rate") in pairs
    assert ("train.schedule", "constant", "schedule_free") in pairs
    by_values = {cell.values: runs[cell] for cell in cells}
    for c in comparisons:
        values = dict(c.fixed)
        level = by_values[
            tuple((k, c.level if k == c.axis else values[k]) for k in axes)
        ]
        baseline = by_values[
            tuple((k, c.baseline if k == c.axis else values[k]) for k in axes)
        ]
        diffs = [
            level[s]["figures"][FIGURE] - baseline[s]["figures"][FIGURE]
            for s in sorted(level)
        ]
        assert c.diffs == pytest.approx(diffs)
        assert c.p == pytest.approx(
            stats.ttest_rel(
                [level[s]["figures"][FIGURE] for s in sorted(level)],
                [baseline[s]["figures"][FIGURE] for s in sorted(level)],
            ).pvalue
        )
        assert c.effect_size == pytest.approx(
            np.mean(diffs) / np.std(diffs, ddof=1)
        )
        half = stats.t.ppf(0.975, 3) * stats.sem(diffs)
        assert c.ci == pytest.approx(
            (np.mean(diffs) - half, np.mean(diffs) + half)
        )
    adjusted = [c.p_adjusted for c in comparisons]
    assert adjusted == pytest.approx(list(holm([c.p for c in comparisons])))
    assert all(
        c.verdict == ("real" if c.p_adjusted < 0.05 else "not_real")
        for c in comparisons
    )


def test_holm_against_its_definition():
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    # Sorted: 0.005, 0.01, 0.03, 0.04, 0.5 times 5, 4, 3, 2, 1, running max.
    expected = {0.005: 0.025, 0.01: 0.04, 0.03: 0.09, 0.04: 0.09, 0.5: 0.5}
    assert list(holm(p)) == pytest.approx([expected[v] for v in p])


def test_two_seeds_are_untestable_never_real():
    cells, axes = default_study_cells()
    rng = np.random.default_rng(0)
    runs = simulated_runs(
        cells, 2, rng, effects={cells[1]: -3.0}
    )  # a huge effect
    comparisons = paired_comparisons(runs, axes)
    assert comparisons and all(c.verdict == "untestable" for c in comparisons)
    assert all(math.isnan(c.p_adjusted) for c in comparisons)
    assert "untestable" in comparisons[0].sentence()


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


def test_mean_factor_weights_by_the_scheduled_rate():
    # Scheduled rates 1, 1, 0 (decayed) with factors 2, 4, 100: the last
    # step moves nothing, so the matched rate is (2 + 4) / 2 = 3.
    steps = {"lr": [2.0, 4.0, 0.0], "factor": [2.0, 4.0, 100.0]}
    assert mean_factor(steps) == pytest.approx(3.0)
