"""history.csv, rewritten atomically after every epoch."""

import csv
import io
import math

import keras

from kerastune_lab.run_directory import write_text_atomic


class HistoryCSV(keras.callbacks.Callback):
    """Like `keras.callbacks.CSVLogger`, but a crash can never leave a torn
    file: the whole table is written to a temporary file and renamed after
    each epoch. A resumed run passes the rows it keeps.

    Args:
        path: The CSV file.
        rows: Earlier rows (dicts) to keep, e.g. from an interrupted run.
    """

    def __init__(self, path, rows=()):
        super().__init__()
        self.path = path
        self.rows = [dict(r) for r in rows]

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch}
        row.update({k: float(v) for k, v in (logs or {}).items()})
        self.rows.append(row)
        columns = ["epoch"] + sorted(
            {k for r in self.rows for k in r} - {"epoch"}
        )
        out = io.StringIO()
        writer = csv.DictWriter(
            out, fieldnames=columns, restval="", lineterminator="\n"
        )
        writer.writeheader()
        for r in self.rows:
            writer.writerow({k: _fmt(v) for k, v in r.items()})
        write_text_atomic(self.path, out.getvalue())


def _fmt(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
