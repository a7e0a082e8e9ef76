"""Scaling out: `compare --engine ray` and `[train] data_parallel`.

Marked `ray` and `data_parallel` so a local session can skip them
(`-m "not ray and not data_parallel"`); CI installs Ray and runs them.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner
from tiny_study import (
    GRID_2X2,
    TINY_GRU,
)  # tests/ is on sys.path (rootdir conftest)

from kerastune_lab.callbacks import TuneReport
from kerastune_lab.cli.main import cli
from kerastune_lab.errors import UserError
from kerastune_lab.run_directory import read_csv_columns
from kerastune_lab.training.data_parallel import data_parallel_scope


def write_study(tmp_path, grid=GRID_2X2):
    path = tmp_path / "study.toml"
    path.write_text(TINY_GRU + grid)
    return path


def compare_command(study, runs_dir, *extra):
    return [
        sys.executable,
        "-m",
        "kerastune_lab",
        "compare",
        str(study),
        "--seeds",
        "2",
        "--runs-dir",
        str(runs_dir),
        *extra,
    ]


def finished_runs(runs_dir):
    return {
        p.parent.name: p.stat().st_mtime_ns
        for p in runs_dir.glob("compare-*/runs/*/metrics.json")
    }


@pytest.mark.slow
@pytest.mark.ray
def test_ray_study_resumes_after_sigint_and_matches_the_local_engine(
    tmp_path, tiny_local_study
):
    study, _, local_out = tiny_local_study
    ray_runs = tmp_path / "ray"
    command = compare_command(study, ray_runs, "--engine", "ray")
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 600
        while len(finished_runs(ray_runs)) < 2:
            assert first.poll() is None, (tmp_path / "first.log").read_text()
            assert time.monotonic() < deadline, "no trial finished"
            time.sleep(0.5)
        first.send_signal(signal.SIGINT)
        first.wait(timeout=300)
    before = finished_runs(ray_runs)
    assert 2 <= len(before) < 8, (tmp_path / "first.log").read_text()

    second = subprocess.run(command, capture_output=True, text=True)
    assert second.returncode == 0, (
        second.stdout[-3000:] + second.stderr[-3000:]
    )
    assert "Restoring the Ray experiment" in second.stdout
    after = finished_runs(ray_runs)
    assert len(after) == 8
    # Finished trials were never trained again.
    assert {name: after[name] for name in before} == before
    out = pathlib.Path(second.stdout.strip().splitlines()[-1])

    assert out.name == local_out.name
    assert (out / "summary.csv").read_text() == (
        local_out / "summary.csv"
    ).read_text()
    assert (out / "report.md").read_text() == (
        local_out / "report.md"
    ).read_text()
    for run in (out / "runs").iterdir():
        assert (run / "history.csv").read_text() == (
            local_out / "runs" / run.name / "history.csv"
        ).read_text()


@pytest.mark.slow
@pytest.mark.ray
def test_ray_cluster_places_trials_on_both_nodes(tmp_path):
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        nodes = {node.node_id for node in cluster.list_all_nodes()}
        assert len(nodes) == 2
        study = write_study(tmp_path, '[grid]\n"lr_adapt.mode" = ["none"]\n')
        result = CliRunner().invoke(
            cli,
            compare_command(
                study,
                tmp_path / "runs",
                "--engine",
                "ray",
                "--address",
                cluster.address,
            )[3:],
        )
        assert result.exit_code == 0, result.output
        out = pathlib.Path(result.output.strip().splitlines()[-1])
        used = set()
        for log in (out / "logs").glob("*.log"):
            first_line = log.read_text().splitlines()[0]
            used.add(first_line.rsplit(" ", 1)[1])
        assert used == nodes
        assert len(list((out / "runs").glob("*/metrics.json"))) == 2
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_engine_ray_without_ray_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    study = write_study(tmp_path)
    result = CliRunner().invoke(
        cli, compare_command(study, tmp_path / "runs", "--engine", "ray")[3:]
    )
    assert result.exit_code == 2
    assert "pip install 'kerastune-lab[ray]'" in result.output
    assert "Traceback" not in result.output


def jax_run(tmp_path, name, devices, *overrides):
    """`kerastune-lab run` on the JAX backend with `devices` CPU devices."""
    study = tmp_path / "dp.toml"
    study.write_text(TINY_GRU + '\n[lr_adapt]\nmode = "sd2"\n')
    env = dict(
        os.environ,
        KERAS_BACKEND="jax",
        XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
    )
    command = [
        sys.executable,
        "-m",
        "kerastune_lab",
        "run",
        str(study),
        "--runs-dir",
        str(tmp_path / name),
        "--verbose",
        "0",
    ]
    for override in overrides:
        command += ["--set", override]
    return subprocess.run(command, capture_output=True, text=True, env=env)


# Slow (two runs on forced devices under JAX).
@pytest.mark.data_parallel
@pytest.mark.slow
def test_data_parallel_over_two_devices_matches_one_device(tmp_path):
    import keras

    one = jax_run(tmp_path, "one", 1)
    assert one.returncode == 0, one.stderr[-3000:]
    two = jax_run(tmp_path, "two", 2, "train.data_parallel=true")
    assert two.returncode == 0, two.stderr[-3000:]
    runs = [
        pathlib.Path(p.stdout.strip().splitlines()[-1]) for p in (one, two)
    ]
    records = [json.loads((r / "config.json").read_text()) for r in runs]
    assert [r["backend"] for r in records] == ["jax", "jax"]
    assert [r["replicas"] for r in records] == [1, 2]
    first, second = (read_csv_columns(r / "history.csv") for r in runs)
    assert first.keys() == second.keys()
    for column in first:
        np.testing.assert_allclose(
            second[column], first[column], rtol=1e-5, err_msg=column
        )
    steps = [read_csv_columns(r / "steps.csv") for r in runs]
    np.testing.assert_allclose(steps[1]["loss"], steps[0]["loss"], rtol=1e-5)
    model = keras.models.load_model(runs[1] / "model.keras")
    assert model.output.shape == (None, 2)


@pytest.mark.data_parallel
def test_data_parallel_batch_must_divide_among_devices(tmp_path):
    result = jax_run(
        tmp_path, "odd", 2, "train.data_parallel=true", "train.batch_size=31"
    )
    assert result.returncode == 2
    assert "does not divide among 2 devices" in result.stderr
    assert "Traceback" not in result.stderr


class Train:
    data_parallel = True
    batch_size = 8


def test_multi_worker_tensorflow_is_refused(monkeypatch):
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps(
            {
                "cluster": {"worker": ["host-a:2222", "host-b:2222"]},
                "task": {"type": "worker", "index": 0},
            }
        ),
    )
    with pytest.raises(UserError, match="keras-team/keras#20585"):
        data_parallel_scope(Train)


def test_data_parallel_on_torch_is_refused(monkeypatch):
    monkeypatch.setattr("keras.backend.backend", lambda: "torch")
    with pytest.raises(UserError, match="not supported on the torch"):
        data_parallel_scope(Train)


def test_data_parallel_off_is_a_no_op():
    class Off:
        data_parallel = False

    scope, replicas = data_parallel_scope(Off)
    assert replicas == 1
    with scope:
        pass


def test_tune_report_sends_every_epoch_of_fit():
    import keras

    reports = []
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(16, 3))
    history = model.fit(
        x,
        x[:, :1],
        validation_split=0.25,
        epochs=3,
        verbose=0,
        callbacks=[TuneReport(reports.append)],
    )
    assert [r["epoch"] for r in reports] == [0, 1, 2]
    assert [r["val_loss"] for r in reports] == pytest.approx(
        history.history["val_loss"]
    )
