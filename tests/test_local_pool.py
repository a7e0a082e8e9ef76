"""The local engine's long-lived workers: a run trained in a worker equals
a fresh `kerastune-lab run`, workers are recycled, a killed worker's run
resumes."""

import dataclasses
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
import tomli_w
from tiny_study import GRID_2X2, TINY_GRU

from kerastune_lab.comparison.run_comparison import Study
from kerastune_lab.config import load_experiment, with_settings
from kerastune_lab.engine.local_pool import LocalPool
from kerastune_lab.engine.planned_run import COMPLETE, FAILED, SKIPPED
from kerastune_lab.run_directory import RunDirectory

RUN_FILES = ("history.csv", "steps.csv", "config.json")


def tiny_study(tmp_path, text=TINY_GRU + GRID_2X2, seeds=1):
    path = tmp_path / "study.toml"
    path.write_text(text)
    return Study.create(load_experiment(path), seeds, tmp_path / "runs")


def test_a_run_in_a_worker_after_three_others_equals_a_fresh_process(
    tmp_path,
):
    study = tiny_study(tmp_path)
    planned = study.first_stage()
    assert len(planned) == 4
    with LocalPool(jobs=1) as pool:
        outcomes = pool.run(planned)
    assert [o.state for o in outcomes] == [COMPLETE] * 4
    assert pool.workers_started == 1  # all four in one process

    last = planned[-1]  # sd2, cosine: the fourth run of that worker
    cell_file = tmp_path / "cell.toml"
    cell_file.write_text(tomli_w.dumps(last.config.to_dict()))
    fresh = tmp_path / "fresh"
    subprocess.run(
        [sys.executable, "-m", "kerastune_lab", "run", str(cell_file)]
        + ["--run-dir", str(fresh), "--verbose", "0"],
        check=True,
        capture_output=True,
    )
    for name in RUN_FILES:
        assert (fresh / name).read_text() == (
            last.run_dir / name
        ).read_text(), name
    metrics = json.loads((fresh / "metrics.json").read_text())
    worker = json.loads((last.run_dir / "metrics.json").read_text())
    metrics.pop("wall_seconds"), worker.pop("wall_seconds")
    assert metrics == worker


# Slow (recycling replaces workers mid-study: four worker starts).
@pytest.mark.slow
def test_workers_are_recycled_and_complete_runs_skipped(tmp_path):
    study = tiny_study(tmp_path)
    planned = study.first_stage()
    with LocalPool(jobs=1, max_runs_per_worker=2) as pool:
        outcomes = pool.run(planned)
    assert [o.state for o in outcomes] == [COMPLETE] * 4
    assert pool.workers_started == 2
    assert all(o.memory_mib > 100 for o in outcomes)
    # No memory growth allowed: a new worker for every run.
    for p in planned[2:]:
        RunDirectory(p.run_dir).metrics.unlink()
    seen = []
    with LocalPool(jobs=1, memory_growth_mib=0) as pool:
        outcomes = pool.run(planned, on_outcome=seen.append)
    assert [o.state for o in outcomes] == [SKIPPED] * 2 + [COMPLETE] * 2
    assert pool.workers_started == 2
    assert [o.planned.name for o in seen] == [p.name for p in planned]


# Slow (a worker replaced after a failure).
@pytest.mark.slow
def test_a_failing_run_is_reported_and_the_rest_go_on(tmp_path):
    study = tiny_study(tmp_path)
    planned = study.first_stage()
    missing = tmp_path / "missing.csv"
    planned[1] = dataclasses.replace(
        planned[1],
        config=with_settings(
            study.config, {"data.name": "csv", "data.path": str(missing)}
        ),
    )
    with LocalPool(jobs=1) as pool:
        outcomes = pool.run(planned)
    assert [o.state for o in outcomes] == [
        COMPLETE,
        FAILED,
        COMPLETE,
        COMPLETE,
    ]
    assert "missing.csv" in outcomes[1].message
    assert "missing.csv" in planned[1].log.read_text()
    assert RunDirectory(planned[1].run_dir).claim()  # released
    # A worker whose run failed is replaced, not reused.
    assert pool.workers_started == 2


def _children(pid):
    found = subprocess.run(
        ["pgrep", "-P", str(pid)], capture_output=True, text=True
    ).stdout.split()
    return [int(p) for p in found]


def _epochs(run_dir):
    path = run_dir / "history.csv"
    return len(path.read_text().splitlines()) - 1 if path.is_file() else 0


# Slow (two compare processes and a kill; the backup itself is tested
# fast in test_epoch_backup.py).
@pytest.mark.slow
def test_sigkill_of_a_worker_mid_run_then_compare_again_completes(tmp_path):
    study_file = tmp_path / "study.toml"
    study_file.write_text(
        TINY_GRU.replace("epochs = 2", "epochs = 8")
        + '[grid]\n"lr_adapt.mode" = ["none", "sd2"]\n'
    )
    command = [sys.executable, "-m", "kerastune_lab", "compare"]
    command += [str(study_file), "--seeds", "1", "--jobs", "1"]
    command += ["--runs-dir", str(tmp_path / "runs")]
    log = open(tmp_path / "first.log", "w")  # noqa: SIM115
    first = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        target = None
        while target is None or _epochs(target) < 2:
            assert first.poll() is None, (tmp_path / "first.log").read_text()
            assert time.monotonic() < deadline, "no epoch finished"
            time.sleep(0.2)
            found = list((tmp_path / "runs").glob("compare-*/runs/*-seed42"))
            target = found[0] if found else None
        # multiprocessing's spawned workers, not its resource tracker.
        training = [
            pid
            for pid in _children(first.pid)
            if b"spawn_main"
            in pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert training
        for pid in training:
            os.kill(pid, signal.SIGKILL)
        assert first.wait(timeout=300) == 1
    finally:
        if first.poll() is None:
            first.kill()
        log.close()
    output = (tmp_path / "first.log").read_text()
    assert "FAILED (its worker process died" in output
    killed = RunDirectory(target)
    assert json.loads(killed.status.read_text())["state"] == "running"
    assert not killed.is_complete()

    second = subprocess.run(command, capture_output=True, text=True)
    assert second.returncode == 0, second.stdout + second.stderr
    assert killed.is_complete()
    # Resumed from its backup, not started over.
    assert (
        "Resuming after epoch"
        in (target.parent.parent / "logs" / f"{target.name}.log").read_text()
    )
    assert _epochs(target) == 8
