"""EarlyStopping whose state survives a crash and a resume."""

import json
import pathlib

import keras
import numpy as np

from kerastune_lab.run_directory import write_text_atomic


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """`keras.callbacks.EarlyStopping` that saves its state every epoch.

    The counters (wait, best value and epoch) and the best weights go to
    `state_dir` under the epoch's number; a resumed run passes
    `resume_epoch` (the first epoch it will train) and continues with the
    state that epoch `resume_epoch - 1` left, as if never interrupted.

    Args:
        state_dir: Folder for the state files.
        resume_epoch: First epoch of a resumed run, or 0.
        **kwargs: Arguments of `keras.callbacks.EarlyStopping`.
    """

    def __init__(self, state_dir, resume_epoch=0, **kwargs):
        super().__init__(**kwargs)
        self.state_dir = pathlib.Path(state_dir)
        self.resume_epoch = resume_epoch

    def _state(self, epoch):
        return self.state_dir / f"early_stopping-{epoch}.json"

    def _weights(self, best_epoch):
        return self.state_dir / f"early_stopping-best-{best_epoch}.npz"

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if not self.resume_epoch:
            return
        state = json.loads(self._state(self.resume_epoch - 1).read_text())
        self.wait = state["wait"]
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
        weights = self._weights(self.best_epoch)
        if weights.is_file():
            with np.load(weights) as stored:
                self.best_weights = [
                    stored[f"w{i}"] for i in range(len(stored.files))
                ]

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if (
            self.restore_best_weights
            and self.best_weights is not None
            and self.best_epoch == epoch
        ):
            tmp = self.state_dir / f".best-{epoch}.npz"
            np.savez(
                tmp, **{f"w{i}": w for i, w in enumerate(self.best_weights)}
            )
            tmp.replace(self._weights(epoch))
        write_text_atomic(
            self._state(epoch),
            json.dumps(
                {
                    "wait": self.wait,
                    "best": float(self.best),
                    "best_epoch": self.best_epoch,
                }
            ),
        )
        # Keep this epoch's and the previous epoch's state (a crash before
        # the epoch's backup resumes from the previous one), and the best
        # weights they refer to.
        stale = self._state(epoch - 2)
        if stale.is_file():
            stale.unlink()
        keep = {self.best_epoch}
        if self._state(epoch - 1).is_file():
            keep.add(
                json.loads(self._state(epoch - 1).read_text())["best_epoch"]
            )
        for path in self.state_dir.glob("early_stopping-best-*.npz"):
            if int(path.stem.rsplit("-", 1)[1]) not in keep:
                path.unlink()
