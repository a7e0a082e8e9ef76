"""Does the diagnosis name real runs right? A confusion matrix.

Trains small real runs whose condition is known by construction, at least
three per verdict over two model families (GRU, Transformer) on the
embedded fortunes or the synthetic sequence task, diagnoses each as
`kerastune-lab run` does, and prints the confusion matrix, the accuracy
and whether any good-fit run was called anything worse than good_fit
("still improving" is allowed). With --advice it applies the first advised
`--set` of overfitting, underfitting and unstable runs of both families
and reports whether the figure it targets moved the right way.

    python benchmarks/diagnosis_accuracy.py [--only overfitting,...]
    python benchmarks/diagnosis_accuracy.py --advice
"""

import argparse
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

from kerastune_lab.analysis.diagnose_history import VERDICTS, spike_fraction
from kerastune_lab.run_directory import RunDirectory

SMALL_DATA = [
    'data.name="synthetic"',
    "data.num_samples=300",
    "data.difficulty=0.4",
    "train.early_stopping=false",
    "train.epochs=25",
]
GRU_BIG = [
    'model.name="gru"',
    "model.gru_units=64",
    "model.dropout_rate=0.0",
    "model.recurrent_dropout_rate=0.0",
]
TRANSFORMER_BIG = [
    'model.name="transformer"',
    "model.embedding_dim=64",
    "model.intermediate_dim=128",
    "model.dropout=0.0",
]
TRANSFORMER = [
    'model.name="transformer"',
    "model.embedding_dim=32",
    "model.intermediate_dim=64",
]
GRU = ['model.name="gru"', "model.recurrent_dropout_rate=0.0"]

# (condition, name, overrides): the condition each run is built to show.
SCENARIOS = [
    (
        "overfitting",
        "gru-tiny-data-large",
        GRU_BIG + SMALL_DATA + ["train.learning_rate=3e-3"],
    ),
    (
        "overfitting",
        "gru-tiny-data-large-seed2",
        GRU_BIG + SMALL_DATA + ["train.learning_rate=3e-3", "train.seed=2"],
    ),
    ("overfitting", "transformer-tiny-data", TRANSFORMER_BIG + SMALL_DATA),
    (
        "underfitting",
        "gru-rate-1e-7",
        GRU + ["train.learning_rate=1e-7", "train.epochs=5"],
    ),
    (
        "underfitting",
        "gru-2-units",
        GRU
        + [
            "model.gru_units=2",
            "model.embedding_dim=2",
            "train.learning_rate=1e-4",
            "train.epochs=5",
        ],
    ),
    (
        "underfitting",
        "transformer-rate-1e-7",
        TRANSFORMER + ["train.learning_rate=1e-7", "train.epochs=5"],
    ),
    (
        "diverged",
        "gru-sgd-1e6",
        GRU
        + [
            'train.optimizer="sgd"',
            "train.learning_rate=1e6",
            "train.epochs=4",
        ],
    ),
    (
        "diverged",
        "gru-sgd-1e3",
        GRU
        + [
            'train.optimizer="sgd"',
            "train.learning_rate=1e3",
            "train.epochs=4",
        ],
    ),
    (
        "diverged",
        "transformer-sgd-1e4",
        TRANSFORMER
        + [
            'train.optimizer="sgd"',
            "train.learning_rate=1e4",
            "train.epochs=4",
        ],
    ),
    (
        "unstable",
        "gru-adam-0.1",
        GRU
        + [
            "train.learning_rate=0.1",
            "train.early_stopping=false",
            "train.epochs=10",
        ],
    ),
    (
        "unstable",
        "gru-sgd-1.5-batch16",
        GRU
        + [
            'train.optimizer="sgd"',
            "train.momentum=0.0",
            "train.learning_rate=1.5",
            "train.batch_size=16",
            "train.early_stopping=false",
            "train.epochs=10",
        ],
    ),
    (
        "unstable",
        "gru-sgd-1.5-batch16-seed2",
        GRU
        + [
            'train.optimizer="sgd"',
            "train.momentum=0.0",
            "train.learning_rate=1.5",
            "train.batch_size=16",
            "train.early_stopping=false",
            "train.epochs=10",
            "train.seed=2",
        ],
    ),
    ("good_fit", "gru-fortunes-early-stopping", GRU + ["train.epochs=30"]),
    (
        "good_fit",
        "transformer-fortunes-early-stopping",
        TRANSFORMER + ["train.epochs=30", "model.dropout=0.2"],
    ),
    (
        "good_fit",
        "gru-bidirectional-early-stopping",
        GRU + ["model.bidirectional=true", "train.epochs=30"],
    ),
]


def train(overrides, runs):
    """Runs `kerastune-lab run`; returns (diagnosis, run directory)."""
    command = [
        sys.executable,
        "-m",
        "kerastune_lab",
        "run",
        "--verbose",
        "0",
        "--runs-dir",
        str(runs),
    ]
    for override in overrides:
        command += ["--set", override]
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stdout[-2000:] + out.stderr[-2000:])
    run = RunDirectory(out.stdout.strip().splitlines()[-1])
    return run.read_diagnosis(), run


# The figure each verdict's advice targets, and which way is better.
TARGETS = {
    "overfitting": (
        "test_loss",
        "lower",
        lambda run: run.read_metrics()["test_loss"],
    ),
    "underfitting": (
        "final train loss",
        "lower",
        lambda run: run.read_history()["loss"][-1],
    ),
    # Both signs of instability the rules read: epochs whose train loss
    # rose, and steps whose batch loss spiked (summed shares).
    "unstable": (
        "share of rising epochs + share of spiking steps",
        "lower",
        lambda run: (
            float(np.mean(np.diff(run.read_history()["loss"]) > 0))
            + spike_fraction(
                run.read_steps()["loss"],
                run.read_record()["no_skill_eval_loss"],
            )
        ),
    ),
}
ADVICE_SCENARIOS = (
    "gru-tiny-data-large",
    "transformer-tiny-data",
    "gru-2-units",
    "transformer-rate-1e-7",
    "gru-adam-0.1",
    "gru-sgd-1.5-batch16",
)


def advice_effects(runs, names=()):
    """Applies the first advised --set to real runs; prints the targeted
    figure before and after."""
    print("\nthe first advice, applied:")
    for _, name, overrides in SCENARIOS:
        if name not in (names or ADVICE_SCENARIOS):
            continue
        diagnosis, before = train(overrides, runs)
        if diagnosis["verdict"] not in TARGETS or not diagnosis["advice"]:
            print(f"{name}: {diagnosis['verdict']}, no advice to apply")
            continue
        label, better, figure = TARGETS[diagnosis["verdict"]]
        first = diagnosis["advice"][0]
        change = f"{first['key']}={first['value']}"
        _, after = train(overrides + [change], runs)
        old, new = figure(before), figure(after)
        moved = (new < old) if better == "lower" else (new > old)
        print(
            f"{name} ({diagnosis['verdict']}): --set {change}: {label} "
            f"{old:.4g} -> {new:.4g} ({'right' if moved else 'WRONG'} "
            "way)",
            flush=True,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", default="", help="comma-separated conditions to run"
    )
    parser.add_argument(
        "--advice",
        action="store_true",
        help="only apply the first advice to real runs",
    )
    parser.add_argument(
        "--scenarios",
        default="",
        help="with --advice: comma-separated scenario names",
    )
    args = parser.parse_args()
    if args.advice:
        return advice_effects(
            pathlib.Path(tempfile.mkdtemp(prefix="diagnosis_advice_")),
            set(filter(None, args.scenarios.split(","))),
        )
    only = set(filter(None, args.only.split(",")))
    runs = pathlib.Path(tempfile.mkdtemp(prefix="diagnosis_accuracy_"))
    matrix = {c: dict.fromkeys(VERDICTS, 0) for c in VERDICTS}
    good_called_worse = []
    for condition, name, overrides in SCENARIOS:
        if only and condition not in only:
            continue
        diagnosis, _ = train(overrides, runs)
        verdict = diagnosis["verdict"]
        matrix[condition][verdict] += 1
        flags = ", ".join(diagnosis.get("flags", []))
        print(
            f"{condition:12} {name:38} -> {verdict}"
            f"{' (' + flags + ')' if flags else ''}: "
            f"{diagnosis['reasons'][0]}",
            flush=True,
        )
        if condition == "good_fit" and verdict != "good_fit":
            good_called_worse.append(name)
    total = sum(sum(row.values()) for row in matrix.values())
    right = sum(matrix[c][c] for c in VERDICTS)
    print("\nconfusion matrix (rows: built condition, columns: verdict)")
    print(" " * 13 + "".join(f"{v:>13}" for v in VERDICTS))
    for condition in VERDICTS:
        print(
            f"{condition:13}"
            + "".join(f"{matrix[condition][v]:>13}" for v in VERDICTS)
        )
    print(
        f"\ncorrect: {right}/{total} = {right / max(total, 1):.0%}; "
        f"good-fit runs called worse: {good_called_worse or 'none'}"
    )


if __name__ == "__main__":
    main()
