"""Backs a run up every epoch so that a kill at any moment can resume."""

import json
import os
import pathlib
import shutil

import keras

from kerastune_lab.keras_internals import set_restored_epoch
from kerastune_lab.run_directory import RunDirectory, write_text_atomic

METADATA = RunDirectory.BACKUP_METADATA


class EpochBackup(keras.callbacks.Callback):
    """`keras.callbacks.BackupAndRestore` whose backup survives SIGKILL.

    Keras's callback writes the weights and then the epoch into fixed
    files: a process killed while the weights are half written leaves an
    HDF5 file that cannot be read, and one killed between the two files
    leaves the next epoch's weights with the last epoch's number. Here each
    epoch's weights (with the optimizer state, which drives the schedule)
    go to a file of their own, written under a temporary name and renamed;
    only then does the metadata, itself replaced atomically, point at them.
    Whenever the process dies, the metadata names one complete epoch.

    Args:
        backup_dir: Folder of the backup (made when needed; removed when
            `fit` ends, as Keras's `delete_checkpoint=True` does).

    Example:

    >>> import tempfile, numpy as np, keras
    >>> folder = tempfile.mkdtemp()
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> x, y = np.ones((4, 2)), np.ones((4, 1))
    >>> backup = EpochBackup(folder + "/backup")
    >>> backup.set_model(model)
    >>> backup.on_epoch_end(0)
    >>> sorted(p.name for p in backup.backup_dir.iterdir())
    ['epoch-1.weights.h5', 'training_metadata.json']
    """

    def __init__(self, backup_dir):
        super().__init__()
        if not backup_dir:
            raise ValueError(
                f"EpochBackup needs a backup folder; received "
                f"backup_dir={backup_dir!r}."
            )
        self.backup_dir = pathlib.Path(backup_dir)

    @property
    def _metadata(self):
        return self.backup_dir / METADATA

    def on_train_begin(self, logs=None):
        if not self._metadata.is_file():
            return
        metadata = json.loads(self._metadata.read_text())
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        self.model.load_weights(self.backup_dir / metadata["weights"])
        set_restored_epoch(self.model, metadata["epoch"])

    def on_epoch_end(self, epoch, logs=None):
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{epoch + 1}.weights.h5"
        partial = self.backup_dir / f".partial-{name}"
        self.model.save_weights(partial, overwrite=True)
        os.replace(partial, self.backup_dir / name)
        write_text_atomic(
            self._metadata, json.dumps({"epoch": epoch + 1, "weights": name})
        )
        for older in self.backup_dir.glob("epoch-*.weights.h5"):
            if older.name != name:
                older.unlink()

    def on_train_end(self, logs=None):
        shutil.rmtree(self.backup_dir, ignore_errors=True)
