"""`[train] tensorboard = true`: event files a TensorBoard user can read."""

import pathlib

import numpy as np
import pytest
from click.testing import CliRunner

from kerastune_lab.cli.main import cli
from kerastune_lab.run_directory import read_csv_columns

FAST = [
    "--set",
    "train.epochs=2",
    "--set",
    "model.gru_units=8",
    "--set",
    "model.embedding_dim=8",
    "--set",
    "data.sequence_length=24",
    "--set",
    "model.recurrent_dropout_rate=0.0",
    "--set",
    "train.tensorboard=true",
    "--set",
    'lr_adapt.mode="polyak"',
    "--verbose",
    "0",
]


def scalars(folder):
    """{tag: [(step, value)]} of the event files in `folder`."""
    from tensorboard.backend.event_processing import event_accumulator

    events = event_accumulator.EventAccumulator(
        str(folder), size_guidance={event_accumulator.TENSORS: 0}
    )
    events.Reload()
    import tensorflow as tf

    out = {}
    for tag in events.Tags()["tensors"]:
        values = [
            (e.step, tf.make_ndarray(e.tensor_proto))
            for e in events.Tensors(tag)
        ]
        if all(v.ndim == 0 and v.dtype.kind == "f" for _, v in values):
            out[tag] = [(step, float(v)) for step, v in values]
    return out, events


def test_run_writes_step_and_epoch_scalars_and_hyperparameters(tmp_path):
    pytest.importorskip("tensorboard")
    result = CliRunner().invoke(
        cli, ["run", *FAST, "--runs-dir", str(tmp_path / "runs")]
    )
    assert result.exit_code == 0, result.output
    run_dir = pathlib.Path(result.output.strip().splitlines()[-1])
    logs = run_dir / "tensorboard"
    steps = read_csv_columns(run_dir / "steps.csv")
    per_step, events = scalars(logs / "steps")
    # Every column of steps.csv, polyak's grad_norm_sq included.
    assert "grad_norm_sq" in steps
    for column in set(steps) - {"step", "epoch"}:
        logged = per_step[f"step/{column}"]
        assert [s for s, _ in logged] == [int(s) for s in steps["step"]]
        np.testing.assert_allclose(
            [v for _, v in logged], steps[column], rtol=1e-6
        )
    assert "_hparams_/session_start_info" in events.Tags()["tensors"]
    per_epoch, _ = scalars(logs / "train")
    history = read_csv_columns(run_dir / "history.csv")
    np.testing.assert_allclose(
        [v for _, v in per_epoch["epoch_loss"]], history["loss"], rtol=1e-5
    )
