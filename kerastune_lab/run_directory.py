"""A run directory: the one place that knows its files.

Every run-file name, the atomic writers, the readers, the completion and
status checks and the run locks live here, at the bottom of the package
(it imports only the figure registry), so training, `compare`, the Ray engine,
`report`, `diagnose` and `predict` all read and write runs the same way.
"""

import contextlib
import csv
import datetime
import fcntl
import io
import json
import math
import os
import pathlib
import platform
import secrets
import tempfile

from kerastune_lab.figures import read_figures

_PACKAGES = ("keras", "tensorflow", "jax", "keras_hub", "numpy")


class RunDirectory:
    """The files of one run (see README.md, "Run one experiment").

    Args:
        path: The run's folder (it need not exist yet).

    Example:

    >>> import tempfile
    >>> run = RunDirectory(tempfile.mkdtemp())
    >>> run.is_run(), run.is_complete()
    (False, False)
    >>> run.write_metrics({"test_loss": 0.5})
    >>> run.is_complete(), run.read_metrics()["test_loss"]
    (True, 0.5)
    """

    CONFIG = "config.json"
    HISTORY = "history.csv"
    STEPS = "steps.csv"
    METRICS = "metrics.json"
    MODEL = "model.keras"
    DIAGNOSIS = "diagnosis.json"
    CURVES = "curves.png"
    STATUS = "status.json"
    # What turns text into a text run's model inputs (`predict` reads it).
    TEXT_VECTORIZER = "text_vectorizer.json"
    TOKENIZER = "tokenizer.json"
    BACKUP = "backup"
    # The epoch a backup holds (`EpochBackup` writes it last).
    BACKUP_METADATA = "training_metadata.json"
    TENSORBOARD = "tensorboard"
    LOCK = ".lock"
    FILES = (CONFIG, HISTORY, STEPS, METRICS, MODEL, DIAGNOSIS, CURVES, STATUS)

    def __init__(self, path: str | os.PathLike):
        self.path = pathlib.Path(path)

    def __fspath__(self):
        return str(self.path)

    def __str__(self):
        return str(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    # -- where ---------------------------------------------------------
    @property
    def config(self) -> pathlib.Path:
        return self.path / self.CONFIG

    @property
    def history(self) -> pathlib.Path:
        return self.path / self.HISTORY

    @property
    def steps(self) -> pathlib.Path:
        return self.path / self.STEPS

    @property
    def metrics(self) -> pathlib.Path:
        return self.path / self.METRICS

    @property
    def model(self) -> pathlib.Path:
        return self.path / self.MODEL

    @property
    def diagnosis(self) -> pathlib.Path:
        return self.path / self.DIAGNOSIS

    @property
    def curves(self) -> pathlib.Path:
        return self.path / self.CURVES

    @property
    def status(self) -> pathlib.Path:
        return self.path / self.STATUS

    @property
    def text_vectorizer(self) -> pathlib.Path:
        """A text classifier's vocabulary and standardisation."""
        return self.path / self.TEXT_VECTORIZER

    @property
    def tokenizer(self) -> pathlib.Path:
        """A masked LM's WordPiece tokenizer (`tokenizers` JSON)."""
        return self.path / self.TOKENIZER

    @property
    def backup(self) -> pathlib.Path:
        return self.path / self.BACKUP

    @property
    def tensorboard(self) -> pathlib.Path:
        return self.path / self.TENSORBOARD

    @property
    def lock(self) -> pathlib.Path:
        """The run's lock file, a hidden file in the run directory (never
        removed: deleting a lock file that others may hold open would let
        two processes lock different files of one name)."""
        return self.path / self.LOCK

    # -- state ---------------------------------------------------------
    def is_run(self) -> bool:
        """Started by `run` (its config.json exists)."""
        return self.config.is_file()

    def is_complete(self) -> bool:
        """Finished: metrics.json is written after training and testing."""
        return self.metrics.is_file()

    @property
    def state(self) -> str:
        """ "complete", "unfinished" (running, or interrupted: `run
        --resume` continues it) or "" (not a run)."""
        if self.is_complete():
            return "complete"
        return "unfinished" if self.is_run() else ""

    @classmethod
    def find(cls, root) -> list["RunDirectory"]:
        """Every run directory at or below `root` (runs of studies and
        improve rounds included), by path.

        Example:

        >>> import tempfile
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> run = RunDirectory(root / "a" / "runs" / "x")
        >>> run.path.mkdir(parents=True)
        >>> run.write_record({})
        >>> [run.name for run in RunDirectory.find(root)]
        ['x']
        """
        found = []
        for folder, subfolders, _ in os.walk(root):
            if os.path.isfile(os.path.join(folder, cls.CONFIG)):
                found.append(cls(folder))
                subfolders.clear()  # a run's own folders hold no runs
            else:
                subfolders[:] = [
                    d for d in subfolders if not d.startswith(".")
                ]
        return sorted(found, key=lambda run: run.path)

    def backed_up_epoch(self) -> int:
        """Epochs finished and backed up in an interrupted run (0: none)."""
        metadata = self.backup / self.BACKUP_METADATA
        if not metadata.is_file():
            return 0
        return int(json.loads(metadata.read_text())["epoch"])

    # -- read ----------------------------------------------------------
    def read_record(self) -> dict:
        """config.json: the resolved config, data sizes, versions."""
        return json.loads(self.config.read_text())

    def read_config(self) -> dict:
        """The resolved configuration config.json recorded (TOML layout)."""
        return self.read_record()["config"]

    def read_no_skill_eval_loss(self) -> float:
        """The eval loss of the best predictor that uses no context, as
        config.json recorded it (NaN where the task has none)."""
        return self.read_record().get("no_skill_eval_loss", math.nan)

    def read_settings(self) -> dict:
        """config.json's configuration as {"section.key": value}, as
        --set names the keys ({} if there is no config.json).

        Example:

        >>> import tempfile
        >>> run = RunDirectory(tempfile.mkdtemp())
        >>> run.write_record({"config": {"train": {"epochs": 3}}})
        >>> run.read_settings()
        {'train.epochs': 3}
        """
        if not self.is_run():
            return {}
        return _flatten(self.read_config())

    def read_status(self) -> dict:
        """status.json ({} if there is none): "state", and for a complete
        run the "seconds" its process spent on it (set-up and files
        included; the part after a resume for a resumed run)."""
        return (
            json.loads(self.status.read_text())
            if self.status.is_file()
            else {}
        )

    def read_metrics(self) -> dict:
        return json.loads(self.metrics.read_text())

    def read_diagnosis(self) -> dict:
        return json.loads(self.diagnosis.read_text())

    def read_history(self) -> dict[str, list[float]]:
        """history.csv as {column: [float, ...]}."""
        return read_csv_columns(self.history)

    def read_steps(self) -> dict[str, list[float]]:
        """steps.csv as {column: [float, ...]} ({} if there is none)."""
        return read_csv_columns(self.steps) if self.steps.is_file() else {}

    def selects_epoch(self) -> bool:
        """Whether the run keeps the epoch its validation figure chose:
        early stopping that restores the best weights."""
        train = self.read_config()["train"]
        return bool(train["early_stopping"] and train["restore_best_weights"])

    def read_figures(self) -> dict[str, float]:
        """The figures a study compares runs by (`figures.read_figures`),
        from a complete run's history.csv and metrics.json."""
        return read_figures(self.read_history(), self.read_metrics())

    # -- write ---------------------------------------------------------
    def write_record(self, record: dict) -> None:
        write_json_atomic(self.config, record)

    def write_metrics(self, metrics: dict) -> None:
        write_json_atomic(self.metrics, metrics)

    def write_diagnosis(self, diagnosis: dict) -> None:
        write_json_atomic(self.diagnosis, diagnosis)

    def write_status(self, state: str, **details) -> None:
        write_json_atomic(self.status, {"state": state, **details})

    # -- locks ---------------------------------------------------------
    def claim(self) -> bool:
        """Locks the run for this process (fcntl.flock on its lock file);
        False if another process holds it. Two `compare` commands on one
        study share the work and never write into the same run, and the
        lock of a process that dies is released by the system."""
        if os.fspath(self.lock) in _HELD:
            return True
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock, os.O_CREAT | os.O_WRONLY, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        _HELD[os.fspath(self.lock)] = fd
        return True

    def release(self) -> None:
        """Gives up this process's lock on the run (if it holds it)."""
        fd = _HELD.pop(os.fspath(self.lock), None)
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock


def _flatten(tree, prefix=""):
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# Lock files this process holds, by path -> open descriptor.
_HELD = {}


def read_csv_columns(path) -> dict[str, list[float]]:
    """CSV with a header -> {column: [float, ...]} (NaN for empty cells)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    return {
        key: [
            float(row[key]) if row[key] not in ("", None) else math.nan
            for row in rows
        ]
        for key in rows[0]
    }


def create_run_dir(runs_dir, name: str) -> pathlib.Path:
    """Makes runs_dir/<timestamp>-<name>-<random> and returns its path."""
    runs_dir = pathlib.Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    while True:
        path = runs_dir / f"{stamp}-{name}-{secrets.token_hex(2)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def _current_umask():
    # os.umask is the only portable reader, and it also sets: put it back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path, text):
    """Writes `text` to `path` so readers never see a partial file.

    The file gets the permissions of any new file (0o666 less the umask),
    not mkstemp's owner-only 0o600: a shared --runs-dir stays readable.
    """
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o666 & ~_current_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


@contextlib.contextmanager
def replaced_atomically(path):
    """Yields a temporary path beside `path` (same extension, which Keras
    and matplotlib read the format from); renames it to `path` on
    success, removes it on failure."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.stem}-{secrets.token_hex(3)}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(path, data):
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def environment_info():
    """Library versions, backend and platform, for config.json."""
    import sys

    import keras

    versions = {"python": platform.python_version()}
    # Only what this process uses: importing a backend just to report its
    # version would cost seconds and could clash with the one in use.
    for module in _PACKAGES:
        if module in sys.modules:
            versions[module] = getattr(sys.modules[module], "__version__", "")
    from kerastune_lab import __version__

    versions["kerastune_lab"] = __version__
    return {
        "versions": versions,
        "backend": keras.backend.backend(),
        "platform": platform.platform(),
    }


def read_rows(path):
    """A CSV file's rows as dicts (empty if the file does not exist)."""
    path = pathlib.Path(path)
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def keep_epochs_before(path, epoch):
    """Rewrites a per-epoch or per-step CSV without rows of `epoch` or later
    (and any torn last line); returns the rows kept."""
    rows = [
        r
        for r in read_rows(path)
        if r.get("epoch") not in (None, "")
        and None not in r.values()
        and int(float(r["epoch"])) < epoch
    ]
    if pathlib.Path(path).is_file():
        with open(path, newline="") as f:
            header = next(csv.reader(f), [])
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(path, out.getvalue())
    return rows
