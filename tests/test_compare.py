"""`kerastune-lab compare`: a small real grid, resume, statistics."""

import csv
import math

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from kerastune_lab.cli.main import cli
from kerastune_lab.comparison.grid import Cell, expand_grid
from kerastune_lab.comparison.paired_tests import paired_comparisons
from kerastune_lab.comparison.summarize import mean_ci

def test_compare_runs_the_grid_then_resumes(tiny_local_study):
    study, runs_dir, out = tiny_local_study

    def compare():
        result = CliRunner().invoke(cli, [
            "compare", str(study), "--seeds", "2", "--runs-dir",
            str(runs_dir)])
        return result, result.output.strip().splitlines()

    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == [f"{mode}-{schedule}-seed{seed}" for mode in
                    ("none", "sd2") for schedule in ("constant", "cosine")
                    for seed in (42, 43)]
    with open(out / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["lr_adapt.mode"], r["train.schedule"]) for r in rows] == [
        ("none", "constant"), ("none", "cosine"), ("sd2", "constant"),
        ("sd2", "cosine")]
    for row in rows:
        assert row["seeds"] == "2"
        low, mean, high = (float(row[f"final_eval_loss_{k}"])
                           for k in ("ci_low", "mean", "ci_high"))
        assert low <= mean <= high
    for name in ("report.md", "report.html", "curves.png", "rates.png"):
        assert (out / name).stat().st_size > 500, name
    report = (out / "report.md").read_text()
    assert "lr_adapt.mode=sd2 vs none" in report and "paired t-test" in report
    assert "data:image/png;base64," in (out / "report.html").read_text()

    # Same command again: nothing is retrained.
    stamps = {p: p.stat().st_mtime for p in (out / "runs").glob("*/metrics.json")}
    result, lines = compare()
    assert result.exit_code == 0 and lines[-1] == str(out)
    assert sum("complete, skipped" in line for line in lines) == 8
    assert {p: p.stat().st_mtime for p in stamps} == stamps

    # A run that did not finish is run again, the others are kept.
    summary = (out / "summary.csv").read_text()
    (out / "runs" / "sd2-cosine-seed43" / "metrics.json").unlink()
    result, lines = compare()
    assert sum("complete, skipped" in line for line in lines) == 7
    assert (out / "runs" / "sd2-cosine-seed43" / "metrics.json").is_file()
    assert (out / "summary.csv").read_text() == summary


def test_compare_without_a_grid_is_a_user_error(tmp_path):
    study = tmp_path / "plain.toml"
    study.write_text("[train]\nepochs = 1\n")
    result = CliRunner().invoke(cli, ["compare", str(study)])
    assert result.exit_code == 2 and "no [grid]" in result.output


def fake_runs(values_by_cell):
    return {Cell(values): {seed: {"figures": {"final_eval_loss": v,
                                              "final_train_loss": v}}
                           for seed, v in enumerate(seeds)}
            for values, seeds in values_by_cell.items()}


def test_paired_comparisons_match_scipy():
    grid = {"train.schedule": ["constant", "cosine"],
            "lr_adapt.mode": ["none", "sd2"]}
    rng = np.random.default_rng(0)
    base = rng.normal(5, 0.3, size=5)
    values = {}
    for cell in expand_grid(grid):
        shift = -0.5 if dict(cell.values)["lr_adapt.mode"] == "sd2" else 0.0
        values[cell.values] = list(base + shift + rng.normal(0, 0.05, 5))
    results = paired_comparisons(fake_runs(values), grid,
                                 figures=("final_eval_loss",))
    mode = [r for r in results if r.axis == "lr_adapt.mode"]
    assert len(mode) == 2  # one per schedule
    for r in mode:
        schedule = dict(r.fixed)["train.schedule"]
        a = values[(("train.schedule", schedule), ("lr_adapt.mode", "sd2"))]
        b = values[(("train.schedule", schedule), ("lr_adapt.mode", "none"))]
        assert r.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue)
        assert r.mean_diff == pytest.approx(np.mean(np.subtract(a, b)))
        assert r.real and "statistically real" in r.sentence()


def test_one_seed_is_reported_as_untestable():
    grid = {"lr_adapt.mode": ["none", "sd"]}
    results = paired_comparisons(fake_runs({
        (("lr_adapt.mode", "none"),): [5.0],
        (("lr_adapt.mode", "sd"),): [4.0]}), grid, figures=("final_eval_loss",))
    assert math.isnan(results[0].p_value)
    assert "not testable" in results[0].sentence()


def test_mean_ci_is_a_t_interval():
    mean, low, high = mean_ci([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * stats.sem([1.0, 2.0, 3.0])
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    assert math.isnan(mean_ci([4.0])[1])
