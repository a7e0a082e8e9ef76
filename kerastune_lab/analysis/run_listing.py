"""`kerastune-lab runs`: one line per run, what differs in each."""

import collections
import json
import math
import os

from kerastune_lab.toml_literal import toml_literal

# Keys shown per run before "+N more".
MAX_DIFFERENCES = 4


def _differences(frame):
    """Per row, "key=value" for the config keys where the run differs
    from the value most of the runs have."""
    keys = [c for c in frame.columns if "." in c and c != "path"]
    typical = {}
    for key in keys:
        counts = collections.Counter(
            json.dumps(v, default=str) for v in frame[key]
        )
        if len(counts) > 1:
            typical[key] = counts.most_common(1)[0][0]
    texts = []
    for _, row in frame.iterrows():
        own = [
            f"{key}={toml_literal(row[key])}"
            for key, common in typical.items()
            if json.dumps(row[key], default=str) != common
        ]
        extra = len(own) - MAX_DIFFERENCES
        texts.append(
            " ".join(own[:MAX_DIFFERENCES])
            + (f" +{extra} more" if extra > 0 else "")
        )
    return texts


def _numbers(frame, column, form):
    """A column's numbers as text ("" where a run has none)."""
    values = frame[column] if column in frame else [None] * len(frame)
    return [
        ""
        if v is None or (isinstance(v, float) and math.isnan(v))
        else format(v, form)
        for v in values
    ]


def run_listing(frame, root):
    """The lines of `kerastune-lab runs` for `load_runs`'s DataFrame.

    Args:
        frame: `load_runs(root)`.
        root: The folder listed (run paths are shown relative to it).

    Returns:
        A header line and one line per run: status, verdict, family, test
        loss, test accuracy (or perplexity), epochs, seconds, the run's
        folder, and the configuration keys where it differs from most of
        the runs listed.
    """
    if frame.empty:
        return []
    score = (
        "test_accuracy"
        if "test_accuracy" in frame and frame["test_accuracy"].notna().any()
        else "test_perplexity"
    )
    columns = {
        "status": list(frame["status"]),
        "verdict": list(frame["verdict"]),
        "family": list(frame["family"]),
        "test_loss": _numbers(frame, "test_loss", ".4g"),
        score: _numbers(frame, score, ".4g"),
        "epochs": _numbers(frame, "epochs_run", ".0f"),
        "seconds": _numbers(frame, "wall_seconds", ".0f"),
        "run": [os.path.relpath(p, root) for p in frame["path"]],
        "differs": _differences(frame),
    }
    widths = {
        name: max(len(name), *map(len, values))
        for name, values in columns.items()
    }

    def line(cells):
        return "  ".join(
            cell.ljust(widths[name]) for name, cell in zip(columns, cells)
        ).rstrip()

    return [line(columns), *map(line, zip(*columns.values()))]
