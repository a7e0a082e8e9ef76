"""The user's path around the runs: listing and loading them, a study's
plan before it trains, the example files, readable files."""

import csv
import os
import pathlib
import re
import shutil
import stat

import pytest
from click.testing import CliRunner
from tiny_study import CONTROLS, GRID_2X2, TINY_GRU, run_compare

import kerastune_lab
from kerastune_lab.cli.main import cli
from kerastune_lab.duration import duration
from kerastune_lab.errors import UserError
from kerastune_lab.example_files import example_files, summary
from kerastune_lab.families.registry import FAMILIES
from kerastune_lab.run_directory import RunDirectory, read_csv_columns


def invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result, result.output.strip().splitlines()


def dry_run(study, runs_dir, *args):
    """`compare STUDY --dry-run` with 2 jobs (what the estimates divide by)."""
    return invoke(
        "compare",
        study,
        "--runs-dir",
        runs_dir,
        "--dry-run",
        "--jobs",
        2,
        *args,
    )


def test_load_study_gives_each_run_its_cell_and_figures(tiny_local_study):
    _, _, out = tiny_local_study
    frame, history = kerastune_lab.load_study(out, history=True)
    assert len(frame) == 8 and set(frame["status"]) == {"complete"}
    assert set(frame["cell"]) == {
        "none-constant",
        "none-cosine",
        "sd2-constant",
        "sd2-cosine",
    }
    for _, row in frame.iterrows():
        # The cell's levels, as the run's own config.json has them.
        assert row["cell"] == f"{row['lr_adapt.mode']}-{row['train.schedule']}"
        own = read_csv_columns(pathlib.Path(row["path"]) / "history.csv")
        assert row["final_eval_loss"] == pytest.approx(own["val_loss"][-1])
        assert row["train.learning_rate"] == 3e-3
    # summary.csv's cell means, from the same runs.
    with open(out / "summary.csv") as f:
        summary_rows = list(csv.DictReader(f))
    means = frame.groupby(["lr_adapt.mode", "train.schedule"])[
        "final_eval_loss"
    ].mean()
    for row in summary_rows:
        key = (row["lr_adapt.mode"], row["train.schedule"])
        assert means[key] == pytest.approx(float(row["final_eval_loss_mean"]))
    assert len(history) == 8 * 2 and set(history["epoch"]) == {0, 1}
    assert list(history.columns[:2]) == ["run", "epoch"]


def test_load_runs_and_the_runs_listing(tiny_local_study):
    _, runs_dir, _ = tiny_local_study
    frame = kerastune_lab.load_runs(runs_dir)
    assert len(frame) == 8
    verdicts = {
        RunDirectory(p).read_diagnosis()["verdict"] for p in frame["path"]
    }
    assert {v.split(",")[0] for v in frame["verdict"]} == verdicts
    result, lines = invoke("runs", runs_dir)
    assert result.exit_code == 0, result.output
    header, rows = lines[0].split(), lines[1:]
    assert header[:4] == ["status", "verdict", "family", "test_loss"]
    assert len(rows) == 8 and all(r.startswith("complete") for r in rows)
    # What differs from most runs (ties go to the first run listed).
    first = next(r for r in rows if "none-constant-seed42" in r)
    last = next(r for r in rows if "sd2-cosine-seed43" in r)
    assert first.endswith("none-constant-seed42")
    for shown in ('train.schedule="cosine"', "train.seed=43", '"sd2"'):
        assert shown in last
    result, _ = invoke("runs", runs_dir, "--csv")
    table = list(csv.DictReader(result.output.splitlines()))
    assert len(table) == 8 and float(table[0]["train.learning_rate"]) == 3e-3


def test_load_study_refuses_a_folder_that_is_not_a_study(tmp_path):
    with pytest.raises(UserError, match="not a comparison directory"):
        kerastune_lab.load_study(tmp_path)
    result, lines = invoke("runs", tmp_path / "nothing")
    assert result.exit_code == 2 and "is not a folder" in lines[-1]


def test_dry_run_estimates_from_the_finished_runs(tiny_local_study, tmp_path):
    study, _, out = tiny_local_study
    copy = tmp_path / "runs" / out.name
    shutil.copytree(out, copy)
    for name in ("sd2-cosine-seed42", "sd2-cosine-seed43"):
        (copy / "runs" / name / "metrics.json").unlink()
    finished = [RunDirectory(p) for p in sorted((copy / "runs").iterdir())][:6]
    seconds = sum(run.read_status()["seconds"] for run in finished)
    steps = sum(len(run.read_steps()["step"]) for run in finished)
    expected = seconds / steps * 2 * steps / 6 / 2  # 2 runs, --jobs 2
    files = sorted(copy.rglob("*"))
    result, lines = dry_run(study, tmp_path / "runs", "--seeds", 2)
    assert result.exit_code == 0, result.output
    assert "plan: 4 cells x 2 seeds = 8 runs" in lines
    assert "done: 6 of 8 runs" in lines
    assert (
        f"estimated time: about {duration(expected)} for the 2 run(s) "
        "left, 2 at a time (--jobs)" in lines
    )
    assert "from the 6 finished run(s) of this study" in lines[-1]
    assert sorted(copy.rglob("*")) == files


def test_dry_run_of_a_new_study_probes_and_writes_nothing(tmp_path):
    study = tmp_path / "study.toml"
    study.write_text(TINY_GRU + CONTROLS)
    result, lines = dry_run(study, tmp_path / "runs", "--seeds", 3)
    assert result.exit_code == 0, result.output
    assert (
        "plan: 3 cells x 3 seeds = 9 runs, then 3 matched-rate control "
        "runs (12 in all)" in lines
    )
    assert "done: 0 of 12 runs" in lines
    assert any(line.endswith("(not made yet)") for line in lines)
    estimate = next(x for x in lines if x.startswith("estimated time"))
    # The probe ran alone: runs at once (default --jobs 2 here) gain
    # between 2x and nothing over it.
    assert re.match(
        r"estimated time: between \d+ (s|min).* and \d+ (s|min).* \(if the "
        r"runs at once gain the full 2x over one alone, or nothing\)",
        estimate,
    ), estimate
    assert "timed probe" in lines[-1]
    assert not (tmp_path / "runs").exists()


def test_check_validates_every_cell_and_counts_the_runs(tmp_path):
    study = tmp_path / "study.toml"
    study.write_text(TINY_GRU + GRID_2X2)
    result, lines = invoke("check", study)
    assert result.exit_code == 0, result.output
    assert lines[-1] == "# compare: 4 cells x 3 seeds = 12 runs"
    result, lines = invoke("check", study, "--seeds", 5)
    assert lines[-1] == "# compare: 4 cells x 5 seeds = 20 runs"


def test_examples_list_copy_and_never_overwrite(tmp_path, monkeypatch):
    result, lines = invoke("examples")
    assert result.exit_code == 0
    names = [line.split()[0] for line in lines]
    assert names == sorted(example_files()) and "sd_study" in names
    monkeypatch.chdir(tmp_path)
    result, lines = invoke("examples", "fortunes_gru")
    assert result.exit_code == 0 and lines[-1] == "fortunes_gru.toml"
    copied = tmp_path / "fortunes_gru.toml"
    assert copied.read_text() == example_files()["fortunes_gru"].read_text()
    copied.write_text("# mine\n")
    result, lines = invoke("examples", "fortunes_gru.toml")
    assert result.exit_code == 2 and "exists already" in lines[-1]
    assert copied.read_text() == "# mine\n"
    result, lines = invoke("examples", "fortune_gru")
    assert result.exit_code == 2 and "Did you mean fortunes_gru?" in lines[-1]


def test_every_example_checks_and_ships_with_the_package(repo):
    files = example_files()
    assert files.keys() == {p.stem for p in (repo / "experiments").glob("*")}
    package = pathlib.Path(kerastune_lab.__file__).parent
    assert all(p.parent == package / "examples" for p in files.values())
    assert "examples/*.toml" in (repo / "setup.cfg").read_text()
    from kerastune_lab.comparison.run_comparison import default_study

    assert default_study() == files["sd_study"]
    for name, path in files.items():
        result, _ = invoke("check", path)
        assert result.exit_code == 0, (name, result.output)


SEED_DOCUMENTS = re.compile(r"\bseeds? 00\d", re.IGNORECASE)


def test_user_facing_text_names_no_seed_documents():
    for name in cli.commands:
        result, _ = invoke(name, "--help")
        assert not SEED_DOCUMENTS.search(result.output), name
    for family in FAMILIES.values():
        for knob in family.knobs:
            assert not SEED_DOCUMENTS.search(knob.why), knob
    for path in example_files().values():
        assert not SEED_DOCUMENTS.search(summary(path)), path


def test_files_are_readable_as_the_umask_allows(tmp_path):
    study = tmp_path / "study.toml"
    study.write_text(TINY_GRU + '[grid]\n"train.schedule" = ["constant"]\n')
    old = os.umask(0o022)
    try:
        _, out = run_compare(study, tmp_path / "runs", "--seeds", "1")
    finally:
        os.umask(old)
    files = [p for p in out.rglob("*") if p.is_file()]
    run = RunDirectory(out / "runs" / "constant-seed42")
    assert {run.config, run.metrics, run.status, run.lock} <= set(files)
    modes = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {"0o644"}, modes
