"""`kerastune-lab compare`: a small real grid, resume, statistics."""

import csv
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from tiny_study import CONTROLS, TINY_GRU, run_compare

from kerastune_lab.cli.main import cli
from kerastune_lab.run_directory import read_csv_columns
from kerastune_lab.statistics.mean_ci import mean_ci
from kerastune_lab.statistics.paired_tests import CSV_COLUMNS


def test_compare_runs_the_grid_then_resumes(tiny_local_study):
    study, runs_dir, out = tiny_local_study

    def compare():
        return run_compare(study, runs_dir, "--seeds", "2")

    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == [
        f"{mode}-{schedule}-seed{seed}"
        for mode in ("none", "sd2")
        for schedule in ("constant", "cosine")
        for seed in (42, 43)
    ]
    with open(out / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["lr_adapt.mode"], r["train.schedule"]) for r in rows] == [
        ("none", "constant"),
        ("none", "cosine"),
        ("sd2", "constant"),
        ("sd2", "cosine"),
    ]
    for row in rows:
        assert row["seeds"] == "2"
        low, mean, high = (
            float(row[f"final_eval_loss_{k}"])
            for k in ("ci_low", "mean", "ci_high")
        )
        assert low <= mean <= high
    for name in (
        "report.md",
        "report.html",
        "curves.png",
        "rates.png",
        "strip.png",
    ):
        assert (out / name).stat().st_size > 500, name
    # No matched-rate control: no rate-loss curve to draw.
    assert not (out / "rate_loss.png").exists()
    report = (out / "report.md").read_text()
    assert "lr_adapt.mode=sd2 vs none" in report
    # Two seeds: no comparison is tested, and the report says so plainly.
    assert "With 2 seed(s) no comparison can be tested" in report
    with open(out / "comparisons.csv") as f:
        comparisons = list(csv.DictReader(f))
    assert list(comparisons[0]) == list(CSV_COLUMNS)
    assert len(comparisons) == 4
    assert {c["verdict"] for c in comparisons} == {"untestable"}
    assert "data:image/png;base64," in (out / "report.html").read_text()

    # Same command again: nothing is retrained.
    stamps = {
        p: p.stat().st_mtime for p in (out / "runs").glob("*/metrics.json")
    }
    lines, again = compare()
    assert again == out
    assert sum("complete, skipped" in line for line in lines) == 8
    assert {p: p.stat().st_mtime for p in stamps} == stamps

    # A run that did not finish is run again, the others are kept.
    summary = (out / "summary.csv").read_text()
    (out / "runs" / "sd2-cosine-seed43" / "metrics.json").unlink()
    lines, _ = compare()
    assert sum("complete, skipped" in line for line in lines) == 7
    assert (out / "runs" / "sd2-cosine-seed43" / "metrics.json").is_file()
    assert (out / "summary.csv").read_text() == summary


def test_compare_without_a_grid_is_a_user_error(tmp_path):
    study = tmp_path / "plain.toml"
    study.write_text("[train]\nepochs = 1\n")
    result = CliRunner().invoke(cli, ["compare", str(study)])
    assert result.exit_code == 2 and "no [grid]" in result.output


# Slow (a study with two stages of controls).
@pytest.mark.slow
def test_compare_adds_matched_rate_and_schedule_free_cells(tmp_path):
    """3 seeds of none / sd2, the schedule-free cell and SD2's matched-rate
    control: the control's rate is recomputed here from the SD2 runs'
    steps.csv, and every comparison is tested."""
    study = tmp_path / "study.toml"
    study.write_text(TINY_GRU + CONTROLS)
    lines, out = run_compare(study, tmp_path / "runs", "--seeds", "3")
    assert "primary comparisons of final_eval_loss real" in lines[-2]
    runs = out / "runs"
    assert sorted(p.name for p in runs.iterdir()) == sorted(
        f"{cell}-seed{seed}"
        for cell in (
            "constant-none",
            "constant-sd2",
            "schedule_free-none",
            "constant-none_at_sd2_rate",
        )
        for seed in (42, 43, 44)
    )

    factors = []
    for seed in (42, 43, 44):
        steps = read_csv_columns(
            runs / f"constant-sd2-seed{seed}" / "steps.csv"
        )
        used, factor = np.array(steps["lr"]), np.array(steps["factor"])
        assert not np.allclose(factor, 1.0)  # SD2 adapted the rate
        # Constant schedule, no warmup: every step was scheduled 3e-3.
        factors.append(used.sum() / (len(used) * 3e-3))
    expected = 3e-3 * np.mean(factors)
    for seed in (42, 43, 44):
        control = runs / f"constant-none_at_sd2_rate-seed{seed}"
        record = json.loads((control / "config.json").read_text())
        assert record["config"]["lr_adapt"]["mode"] == "none"
        # The steps.csv rates are float32: agree to their precision.
        assert record["config"]["train"]["learning_rate"] == pytest.approx(
            expected, rel=1e-6
        )
        rates = read_csv_columns(control / "steps.csv")["lr"]
        np.testing.assert_allclose(rates, expected, rtol=1e-6)
        free = json.loads(
            (
                runs / f"schedule_free-none-seed{seed}" / "config.json"
            ).read_text()
        )["config"]["train"]
        assert (free["optimizer"], free["schedule"]) == (
            "schedule_free_adamw",
            "constant",
        )

    with open(out / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    # Two balanced classes: the class prior costs about ln 2.
    for row in rows:
        assert float(row["no_skill_eval_loss"]) == pytest.approx(
            math.log(2), abs=0.02
        )
    with open(out / "comparisons.csv") as f:
        comparisons = list(csv.DictReader(f))
    pairs = {(c["axis"], c["baseline"], c["level"]) for c in comparisons}
    assert pairs == {
        ("lr_adapt.mode", "none", "sd2"),
        ("lr_adapt.mode", "none", "none_at_sd2_rate"),
        ("lr_adapt.mode", "sd2", "none_at_sd2_rate"),
        ("train.schedule", "constant", "schedule_free"),
    }
    assert {c["n"] for c in comparisons} == {"3"}
    # No [analysis]: every comparison is primary and gets a verdict.
    assert {c["role"] for c in comparisons} == {"primary"}
    assert {c["verdict"] for c in comparisons} <= {"real", "not_shown"}
    for row in rows:
        failures = int(row["failures"])
        assert 0 <= failures <= 3
        assert float(row["failure_ci_low"]) <= failures / 3
        assert failures / 3 <= float(row["failure_ci_high"])
    report = (out / "report.md").read_text()
    assert "## At a glance" in report and "| none_at_sd2_rate |" in report
    assert "Figure: **final_eval_loss**" in report
    assert "![rate_loss.png](rate_loss.png)" in report
    assert (out / "rate_loss.png").stat().st_size > 500


def test_mean_ci_covers_the_true_mean_95_percent_of_the_time():
    """Coverage of the per-cell interval by simulation: 4,000 samples of
    5 seeds; within two simulation standard errors of 0.95."""
    rng = np.random.default_rng(0)
    covered = 0
    for values in rng.normal(1.0, 2.0, (4000, 5)):
        _, low, high = mean_ci(values)
        covered += low <= 1.0 <= high
    assert abs(covered / 4000 - 0.95) <= 2 * math.sqrt(0.95 * 0.05 / 4000)
    assert math.isnan(mean_ci([4.0])[1])
    assert math.isnan(mean_ci([4.0, math.inf, 4.2])[1])
    assert mean_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)


@pytest.mark.slow
def test_loss_adaptive_study_runs_every_rule_with_its_settings(tmp_path, repo):
    """The study file as shipped, shrunk to 200 chunks and one epoch: every
    rule trains with the settings its [levels] entry gives it, and the
    declared question is what the report answers."""
    _, out = run_compare(
        repo / "experiments" / "loss_adaptive_study.toml",
        tmp_path / "runs",
        "--seeds",
        "3",
        "--set",
        "train.epochs=1",
        "--set",
        "data.max_chunks=200",
        "--set",
        "train.warmup_steps=5",
    )
    cells = {
        "none": ("adamw", "none", 1e-3),
        "sd2": ("adamw", "sd2", 1e-3),
        "polyak": ("sgd", "polyak", 1.0),
        "momo_adam": ("momo_adam", "none", 1e-2),
    }
    for cell, (optimizer, mode, rate) in cells.items():
        for seed in (42, 43, 44):
            run = out / "runs" / f"{cell}-seed{seed}"
            train = json.loads((run / "config.json").read_text())["config"]
            assert (
                train["train"]["optimizer"],
                train["lr_adapt"]["mode"],
                train["train"]["learning_rate"],
            ) == (optimizer, mode, rate)
    steps = read_csv_columns(out / "runs" / "polyak-seed42" / "steps.csv")
    # SPS_max: never above its cap, the scheduled rate (warmup, then 1).
    assert np.all(np.array(steps["lr"]) <= 1.0 + 1e-6)
    assert np.all(np.array(steps["grad_norm_sq"]) > 0)
    assert len(list((out / "runs").glob("none_at_sd2_rate-seed*"))) == 3
    with open(out / "comparisons.csv") as f:
        primary = [
            (r["level"], r["baseline"])
            for r in csv.DictReader(f)
            if r["role"] == "primary"
        ]
    assert primary == [
        ("sd2", "none"),
        ("polyak", "none"),
        ("momo_adam", "none"),
        ("sd2", "none_at_sd2_rate"),
    ]
