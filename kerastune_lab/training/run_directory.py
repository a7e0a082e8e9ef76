"""Run directories: unique names, atomic files, the environment record."""

import contextlib
import datetime
import json
import os
import pathlib
import platform
import secrets
import tempfile

_PACKAGES = ("keras", "tensorflow", "jax", "keras_hub", "numpy")


def create_run_dir(runs_dir, name):
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


def write_text_atomic(path, text):
    """Writes `text` to `path` so readers never see a partial file."""
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
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
    import csv

    path = pathlib.Path(path)
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def keep_epochs_before(path, epoch):
    """Rewrites a per-epoch or per-step CSV without rows of `epoch` or later
    (and any torn last line); returns the rows kept."""
    import csv
    import io

    rows = [r for r in read_rows(path)
            if r.get("epoch") not in (None, "") and None not in r.values()
            and int(float(r["epoch"])) < epoch]
    if pathlib.Path(path).is_file():
        with open(path, newline="") as f:
            header = next(csv.reader(f), [])
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(path, out.getvalue())
    return rows
