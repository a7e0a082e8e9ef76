"""EpochBackup: a run killed at any moment resumes from one complete
epoch, never from a torn or mismatched backup."""

import json

import keras
import numpy as np
import pytest

from kerastune_lab.callbacks.epoch_backup import EpochBackup

X = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
Y = X @ np.array([[1.0], [-2.0], [0.5]], dtype="float32")


def _model():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    return model


def _fit(model, callbacks):
    model.fit(
        X, Y, epochs=4, batch_size=8, shuffle=False, verbose=0,
        callbacks=callbacks,
    )  # fmt: skip


def _interrupt(backup_dir, after_epoch):
    """A run that dies at the end of `after_epoch`, once backed up."""

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == after_epoch:
                raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        _fit(_model(), [EpochBackup(backup_dir), Kill()])


def _resumed(backup_dir):
    model = _model()
    _fit(model, [EpochBackup(backup_dir)])
    return model.get_weights()


@pytest.fixture(scope="module")
def uninterrupted():
    model = _model()
    _fit(model, [])
    return model.get_weights()


def _assert_same(weights, expected):
    for got, want in zip(weights, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_resumed_run_ends_like_an_uninterrupted_one(tmp_path, uninterrupted):
    _interrupt(tmp_path, after_epoch=1)
    metadata = json.loads((tmp_path / "training_metadata.json").read_text())
    assert metadata == {"epoch": 2, "weights": "epoch-2.weights.h5"}
    _assert_same(_resumed(tmp_path), uninterrupted)
    assert not tmp_path.exists()  # removed when fit ended


def test_a_kill_while_the_weights_are_written_resumes_the_epoch_before(
    tmp_path, uninterrupted
):
    _interrupt(tmp_path, after_epoch=1)
    # Killed half-way through the next epoch's save: a torn HDF5 file.
    (tmp_path / ".partial-epoch-3.weights.h5").write_bytes(b"\x89HDF\r\n")
    _assert_same(_resumed(tmp_path), uninterrupted)


def test_a_kill_before_the_metadata_keeps_weights_and_epoch_together(
    tmp_path, uninterrupted
):
    _interrupt(tmp_path, after_epoch=1)
    # Killed after the next epoch's weights were renamed, before the
    # metadata pointed at them: the metadata still names epoch 2's file.
    (tmp_path / "epoch-3.weights.h5").write_bytes(b"not epoch 2")
    _assert_same(_resumed(tmp_path), uninterrupted)
