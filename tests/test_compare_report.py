"""What a comparison's files say, from crafted finished runs through
`aggregate`: a null study says nothing is real, a planted primary effect
is found, failures are counted and shown, equivalence needs its test."""

import csv
import dataclasses
import json
import math

import numpy as np
import pytest
from scipy import stats

from kerastune_lab.comparison.aggregate import aggregate
from kerastune_lab.config import from_dict
from kerastune_lab.errors import ConfigError
from kerastune_lab.reports import study_plots
from kerastune_lab.reports.plot_rate_loss import rate_loss_curves
from kerastune_lab.statistics.paired_tests import CSV_COLUMNS, closing_line
from kerastune_lab.study.grid import Cell
from kerastune_lab.study.study_levels import study_axes

NO_SKILL = 4.946
SEEDS = [42, 43, 44, 45, 46]
PRIMARY = [
    "lr_adapt.mode: sd vs none",
    "lr_adapt.mode: sd2 vs none",
    "lr_adapt.mode: sd vs none_at_sd_rate",
    "lr_adapt.mode: sd2 vs none_at_sd2_rate",
]
FACTORS = {"sd": 0.8, "sd2": 1.7}


def study_config(analysis=None):
    raw = {
        "grid": {
            "train.schedule": ["constant", "linear", "cosine"],
            "lr_adapt.mode": ["none", "sd", "sd2"],
        },
        "controls": {"matched_rate": ["sd", "sd2"]},
    }
    if analysis is not None:
        raw["analysis"] = analysis
    return from_dict(raw)


def crafted_run(value, rate, factor=1.0, verdict="good_fit"):
    """A finished run as `comparison.collect.read_run` gives it."""
    return {
        "figures": {
            "final_eval_loss": value,
            "best_eval_loss": value,
            "final_eval_perplexity": math.exp(min(value, 700)),
            "final_train_loss": value - 0.1,
            "train_eval_gap": 0.1,
            "test_loss": value,
        },
        "history": {
            "loss": [6.0, 5.0, value - 0.1],
            "val_loss": [6, 5, value],
        },
        "steps": {
            "step": [0, 1, 2],
            "loss": [6.0, 5.5, 5.0],
            "lr": [rate * factor] * 3,
            "factor": [factor] * 3,
        },
        "verdict": verdict,
        "flags": [],
        "learning_rate": rate,
        "no_skill_eval_loss": NO_SKILL,
    }


def crafted_study(tmp_path, config, effects=None, noise=0.02, seed=0):
    """(comparison dir, runs): every cell of `config` x SEEDS, a shared
    seed effect, per-run noise and the `effects` {mode: shift}."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(0, 0.1, len(SEEDS))
    runs = {}
    for schedule, modes in [
        (s, study_axes(config)["lr_adapt.mode"])
        for s in config.grid["train.schedule"]
    ]:
        for mode in modes:
            cell = Cell(
                (("train.schedule", schedule), ("lr_adapt.mode", mode))
            )
            adapted = mode.replace("none_at_", "").replace("_rate", "")
            rate = 1e-3 * (FACTORS[adapted] if mode.startswith("none_") else 1)
            values = (
                4.5
                + shared
                + rng.normal(0, noise, len(SEEDS))
                + (effects or {}).get(mode, 0.0)
            )
            runs[cell] = {
                s: crafted_run(float(v), rate, FACTORS.get(mode, 1.0))
                for s, v in zip(SEEDS, values)
            }
    out = tmp_path / "compare-study"
    out.mkdir()
    (out / "study.json").write_text(
        json.dumps(
            {
                "config": config.to_dict(),
                "config_path": "study.toml",
                "seeds": SEEDS,
            }
        )
    )
    return out, runs


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def section(report, title):
    """The text of one `## title` section of report.md."""
    start = report.index(f"## {title}")
    end = report.find("\n## ", start + 1)
    return report[start : end if end > 0 else None]


DECLARED = {"primary": PRIMARY, "pool_over": ["train.schedule"]}


@pytest.fixture
def quick_plots(monkeypatch):
    """Empty image files instead of plots (a second each on a shared CPU):
    the null study draws and checks the real ones."""

    def stub(runs, path, figure):
        path.write_bytes(b"")

    monkeypatch.setattr(
        study_plots,
        "STUDY_PLOTS",
        tuple(
            dataclasses.replace(plot, draw=stub)
            for plot in study_plots.STUDY_PLOTS
        ),
    )


def assert_not_shown_in_answer(answer, rows, comparisons):
    """Each not-shown primary comparison is in the Answer, with what its
    seeds could detect."""
    for row, comparison in zip(rows, comparisons):
        assert (
            f"- {comparison.label()}: not shown ("
            f"{comparison.estimate:+.3g}, interval "
            f"{comparison.interval_text()}, 5 seeds); these seeds detect a "
            f"true difference of {float(row['detectable_diff']):.3g} with "
            "probability 0.8"
        ) in answer


def test_a_null_study_says_nothing_is_real(tmp_path):
    out, runs = crafted_study(tmp_path, study_config(DECLARED))
    _, comparisons = aggregate(out, [], runs=runs)
    rows = read_csv(out / "comparisons.csv")
    assert list(rows[0]) == list(CSV_COLUMNS)
    primary = [r for r in rows if r["role"] == "primary"]
    assert [
        f"{r['axis']}: {r['level']} vs {r['baseline']}" for r in primary
    ] == PRIMARY
    assert {r["fixed"] for r in primary} == {"pooled over train.schedule"}
    assert {r["n"] for r in primary} == {"5"}
    assert {r["verdict"] for r in primary} == {"not_shown"}
    assert {r["test"] for r in primary} == {"paired t"}
    # Beside "not shown": what these 5 seeds detect with power 0.8 at
    # Holm's first threshold 0.05 / 4, from each contrast's own SD.
    for row, comparison in zip(primary, comparisons):
        sd = np.std(comparison.diffs, ddof=1)
        critical = stats.t.ppf(1 - 0.05 / 8, 4)
        ncp = float(row["detectable_diff"]) / (sd / math.sqrt(5))
        assert stats.nct.sf(critical, 4, ncp) == pytest.approx(0.8, abs=1e-4)
    exploratory = [r for r in rows if r["role"] == "exploratory"]
    assert exploratory and {r["verdict"] for r in exploratory} == {""}
    assert {r["p_adjusted"] for r in exploratory} == {""}
    assert closing_line(comparisons).startswith(
        "0 of 4 primary comparisons of final_eval_loss real"
    )

    report = (out / "report.md").read_text()
    # The answer first, then its evidence, then how it was tested.
    assert (
        report.index("## Answer")
        < report.index("## Primary results")
        < report.index("## At a glance")
        < report.index("## Protocol")
        < report.index("- Power:")
        < report.index("## Failed runs per cell")
        < report.index("## Figures")
        < report.index("## Exploratory estimates")
    )
    answer = section(report, "Answer")
    assert "`lr_adapt.mode: sd2 vs none`" in answer
    assert (
        "The runs do not show a difference in any of the 4 tested "
        "comparisons" in answer
    )
    assert "That is not a proof of no difference:" in answer
    assert_not_shown_in_answer(answer, primary, comparisons)
    assert "![rate_loss.png](rate_loss.png)" in answer
    results = section(report, "Primary results")
    assert results.count("not shown at these 5 seeds (they detect") == 4
    assert "estimated from these runs" in results
    assert ": real" not in results and "**" not in results
    assert results.count("simultaneous 95% (Bonferroni, each 98.75%)") == 4
    for phrase in ("if anything", "no effect", "smaller than"):
        assert phrase not in report
    assert "unadjusted 95%" in section(report, "Exploratory estimates")
    assert "Holm-Bonferroni over the 4 primary comparisons" in report
    for image in ("strip.png", "rate_loss.png", "curves.png", "rates.png"):
        assert f"![{image}]({image})" in report
        assert (out / image).stat().st_size > 1000, image


def test_a_planted_primary_effect_is_found(tmp_path, quick_plots):
    """SD2 lower by 0.1 (5x the runs' noise) in every schedule: both SD2
    contrasts are real, the SD ones are not; the sentences and the matrix
    say so."""
    out, runs = crafted_study(
        tmp_path, study_config(DECLARED), effects={"sd2": -0.1}
    )
    _, comparisons = aggregate(out, [], runs=runs)
    rows = read_csv(out / "comparisons.csv")
    verdicts = {
        (r["level"], r["baseline"]): r["verdict"]
        for r in rows
        if r["role"] == "primary"
    }
    assert verdicts == {
        ("sd", "none"): "not_shown",
        ("sd2", "none"): "real",
        ("sd", "none_at_sd_rate"): "not_shown",
        ("sd2", "none_at_sd2_rate"): "real",
    }
    sd2 = next(
        r for r in rows if r["level"] == "sd2" and r["role"] == "primary"
    )
    assert float(sd2["ci_high"]) < 0 and float(sd2["mean_diff"]) < -0.08
    assert closing_line(comparisons).startswith(
        "2 of 4 primary comparisons of final_eval_loss real"
    )
    report = (out / "report.md").read_text()
    answer = section(report, "Answer")
    assert "show a difference in 2 of the 4 tested comparisons" in answer
    assert answer.count("sd2 gave a **lower** final_eval_loss") == 2
    assert "The runs do not show a difference in the other 2" in answer
    assert answer.count(": not shown (") == 2
    results = section(report, "Primary results")
    assert results.count(": real") == 2
    assert (
        "**lr_adapt.mode=sd2 vs none (pooled over train.schedule)" in results
    )
    assert "| **sd2** (lower than none, pooled" in report


def test_without_a_declaration_every_comparison_is_primary(
    tmp_path, quick_plots
):
    out, runs = crafted_study(tmp_path, study_config())
    aggregate(out, [], runs=runs)
    rows = read_csv(out / "comparisons.csv")
    # 3 schedules: 10 mode pairs each; 5 modes: 3 schedule pairs each
    # (controls exist in every schedule).
    assert len(rows) == 3 * 10 + 5 * 3
    assert {r["role"] for r in rows} == {"primary"}
    p = [float(r["p"]) for r in rows]
    adjusted = [float(r["p_adjusted"]) for r in rows]
    assert min(adjusted) == pytest.approx(min(1, len(rows) * min(p)))
    report = (out / "report.md").read_text()
    assert "Question: none declared" in report
    assert "No question was declared" in section(report, "Answer")


def test_failed_and_diverged_runs_are_counted_and_tested_exactly(
    tmp_path, quick_plots
):
    config = study_config(DECLARED)
    out, runs = crafted_study(tmp_path, config)
    cell = Cell((("train.schedule", "linear"), ("lr_adapt.mode", "sd")))
    runs[cell][43] = crafted_run(math.nan, 1e-3, 0.8, verdict="diverged")
    runs[cell][44] = crafted_run(4.97, 1e-3, 0.8)  # on the plateau
    aggregate(out, [], runs=runs)
    summary = {
        (r["train.schedule"], r["lr_adapt.mode"]): r
        for r in read_csv(out / "summary.csv")
    }
    row = summary[("linear", "sd")]
    assert row["failures"] == "2"
    # Clopper-Pearson from its beta-quantile definition.
    assert float(row["failure_ci_low"]) == pytest.approx(
        stats.beta.ppf(0.025, 2, 4)
    )
    assert float(row["failure_ci_high"]) == pytest.approx(
        stats.beta.ppf(0.975, 3, 3)
    )
    assert summary[("linear", "none")]["failures"] == "0"
    assert float(summary[("linear", "none")]["failure_ci_high"]) == (
        pytest.approx(1 - 0.025 ** (1 / 5))
    )
    rows = {
        (r["level"], r["baseline"]): r
        for r in read_csv(out / "comparisons.csv")
        if r["role"] == "primary"
    }
    exact = rows[("sd", "none")]
    assert exact["test"] == "exact signed-rank"
    assert exact["failed_runs"] == "2"
    assert float(exact["min_p"]) == 0.0625
    assert exact["verdict"] == "not_shown"
    assert rows[("sd2", "none")]["test"] == "paired t"
    report = (out / "report.md").read_text()
    assert "cannot give p below 0.0625" in section(report, "Primary results")
    # The exact test states no detectable difference: the Answer gives the
    # family's, and the floor.
    answer = section(report, "Answer")
    assert "with 5 seeds, true differences below about" in answer
    assert "not shown (Hodges-Lehmann estimate" in answer
    assert "this test cannot give p below 0.0625" in answer
    assert "| linear | sd | 2 / 5 |" in report


def test_equivalence_is_claimed_only_by_its_test(tmp_path, quick_plots):
    """Margin 0.05. SD2 equal to its matched-rate control within noise
    0.005: shown equivalent. SD at +0.1 from its control: real, and not
    equivalent."""
    analysis = {**DECLARED, "equivalence_margin": 0.05}
    out, runs = crafted_study(
        tmp_path,
        study_config(analysis),
        effects={"sd": 0.1},
        noise=0.005,
    )
    _, comparisons = aggregate(out, [], runs=runs)
    rows = {
        (r["level"], r["baseline"]): r
        for r in read_csv(out / "comparisons.csv")
        if r["role"] == "primary"
    }
    same = rows[("sd2", "none_at_sd2_rate")]
    assert same["verdict"] == "not_shown" and same["equivalent"] == "true"
    apart = rows[("sd", "none_at_sd_rate")]
    assert apart["verdict"] == "real" and apart["equivalent"] == "false"
    assert rows[("sd2", "none")]["equivalent"] == ""  # not a control
    assert "1 of 2 shown equivalent within +-0.05" in closing_line(comparisons)
    report = (out / "report.md").read_text()
    assert "Equivalent within +-0.05: shown" in report
    # The Answer says it in plain words, beside what is real.
    answer = section(report, "Answer")
    assert "lr_adapt.mode=sd vs none_at_sd_rate" in answer
    assert (
        "- sd2 and none_at_sd2_rate (plain training at sd2's own mean "
        "rate, pooled over train.schedule): **shown equivalent**: their "
        "difference lies within +-0.05 (TOST p"
    ) in answer
    assert (
        "- sd and none_at_sd_rate (plain training at sd's own mean rate, "
        "pooled over train.schedule): equivalence not shown"
    ) in answer


def test_rate_loss_curves_put_sd_at_its_mean_rate(tmp_path):
    _, runs = crafted_study(tmp_path, study_config())
    curves = rate_loss_curves(runs)
    assert set(curves) == {
        (("train.schedule", s),) for s in ("constant", "linear", "cosine")
    }
    curve, adaptive = curves[(("train.schedule", "cosine"),)]
    assert [p.level for p in curve] == [
        "none_at_sd_rate",
        "none",
        "none_at_sd2_rate",
    ]
    assert {p.level: p.rate for p in adaptive} == pytest.approx(
        {"sd": 0.8e-3, "sd2": 1.7e-3}
    )
    assert all(len(p.values) == len(SEEDS) for p in curve + adaptive)


def test_a_figure_the_runs_lack_is_a_config_error(tmp_path, quick_plots):
    config = study_config({"figure": "test_accuracy"})
    out, runs = crafted_study(tmp_path, config)
    with pytest.raises(
        ConfigError, match=r"analysis\.figure = 'test_accuracy'"
    ):
        aggregate(out, [], runs=runs)


def test_a_study_may_declare_a_logged_metric_as_its_figure(
    tmp_path, quick_plots
):
    """[analysis] figure = "final_eval_accuracy" (the last epoch's
    val_accuracy): higher is better from its name, so a diverged run
    counts as -inf; the summary and the protocol carry the figure."""
    analysis = {**DECLARED, "figure": "final_eval_accuracy"}
    config = study_config(analysis)
    assert config.analysis.higher_is_better
    out, runs = crafted_study(tmp_path, config, effects={"sd2": -0.1})
    for seeds in runs.values():
        for run in seeds.values():
            # Accuracy falls as the loss rises: SD2 is better on both.
            run["figures"]["final_eval_accuracy"] = (
                5.0 - run["figures"]["final_eval_loss"]
            )
    cell = Cell((("train.schedule", "linear"), ("lr_adapt.mode", "sd")))
    runs[cell][43] = crafted_run(math.nan, 1e-3, 0.8, verdict="diverged")
    runs[cell][43]["figures"]["final_eval_accuracy"] = math.nan
    _, comparisons = aggregate(out, [], runs=runs)
    rows = {
        (r["level"], r["baseline"]): r
        for r in read_csv(out / "comparisons.csv")
        if r["role"] == "primary"
    }
    sd2 = rows[("sd2", "none")]
    assert sd2["figure"] == "final_eval_accuracy"
    assert sd2["verdict"] == "real" and float(sd2["mean_diff"]) > 0.08
    # The diverged SD run is the worst accuracy: -inf, not +inf.
    sd = next(
        c for c in comparisons if (c.level, c.baseline) == ("sd", "none")
    )
    assert sd.test == "exact signed-rank" and -math.inf in sd.diffs
    assert "final_eval_accuracy_mean" in read_csv(out / "summary.csv")[0]
    report = (out / "report.md").read_text()
    assert (
        "**final_eval_accuracy** (final_eval_accuracy; higher is better)"
        in (report)
    )
