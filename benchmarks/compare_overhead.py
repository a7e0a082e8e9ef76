"""The toolkit's cost per run: `compare` on a study of many tiny runs
against a plain Keras script that trains the same models in one process.

The study is 4 cells x 3 seeds = 12 tiny GRU runs (200 synthetic
samples, 2 epochs), where almost all of a run's time is fixed cost. The
`compare` side is the whole command in a fresh process, as a user runs it
(process start, workers, every run's files, the aggregate and report); the
plain side is one fresh Python process that loads the same data and, for
each run, builds, compiles, fits and evaluates the same model. Both run
interleaved, alternating which goes first; medians and the median of the
per-round ratios are reported. Targets (issue 18): ratio <= 1.5, goal 1.2.

    python benchmarks/compare_overhead.py [--repeats 3] [--jobs 1]
"""

import argparse
import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

STUDY = """
[data]
name = "synthetic"
num_samples = 200
sequence_length = 16

[model]
name = "gru"
embedding_dim = 8
gru_units = 8
recurrent_dropout_rate = 0.0

[train]
early_stopping = false
epochs = 2
batch_size = 32
learning_rate = 3e-3

[grid]
"model.gru_units" = [8, 16]
"train.learning_rate" = [1e-3, 3e-3]
"""
SEEDS = 3


def plain(study_path):
    """The same 12 models, trained by plain Keras in this process (the
    caller times the whole process, imports included, as for compare)."""
    from kerastune_lab.load_backend_quietly import load_backend_quietly

    load_backend_quietly()
    import keras

    from kerastune_lab.comparison.run_comparison import Study
    from kerastune_lab.config import load_experiment
    from kerastune_lab.data import load_text_classification
    from kerastune_lab.models import build_gru_classifier

    config = load_experiment(study_path)
    study = Study.create(config, SEEDS, tempfile.mkdtemp())
    for planned in study.first_stage():
        run = planned.config
        keras.utils.set_random_seed(run.train.seed)
        data = load_text_classification(run.data, run.train.seed)
        model = build_gru_classifier(
            vocab_size=data.vocab_size,
            num_classes=data.num_classes,
            **dataclasses.asdict(run.model.params),
        )
        model.compile(
            optimizer=keras.optimizers.Adam(run.train.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        model.fit(
            data.x_train,
            data.y_train,
            batch_size=run.train.batch_size,
            epochs=run.train.epochs,
            validation_data=(data.x_val, data.y_val),
            verbose=0,
        )
        model.evaluate(data.x_test, data.y_test, verbose=0)


def timed(command, env):
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--plain", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        plain(args.plain)
        return
    folder = tempfile.mkdtemp(prefix="compare_overhead_")
    study = os.path.join(folder, "study.toml")
    with open(study, "w") as f:
        f.write(STUDY)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    lab_command = [sys.executable, "-m", "kerastune_lab", "compare", study]
    lab_command += ["--seeds", str(SEEDS), "--jobs", str(args.jobs)]
    plain_command = [sys.executable, __file__, "--plain", study]
    times = {"compare": [], "plain": []}
    for r in range(args.repeats):
        order = ["compare", "plain"] if r % 2 == 0 else ["plain", "compare"]
        for side in order:
            runs = os.path.join(folder, "runs")
            shutil.rmtree(runs, ignore_errors=True)
            if side == "compare":
                seconds = timed(lab_command + ["--runs-dir", runs], env)
            else:
                seconds = timed(plain_command, env)
            times[side].append(seconds)
            print(f"round {r + 1} {side}: {seconds:.1f} s", flush=True)
    ratios = [c / p for c, p in zip(times["compare"], times["plain"])]
    lab, keras_only = (statistics.median(times[k]) for k in times)
    print(
        f"12 tiny runs, --jobs {args.jobs}: compare median {lab:.1f} s, "
        f"plain Keras median {keras_only:.1f} s, ratio of medians "
        f"{lab / keras_only:.2f}, median per-round ratio "
        f"{statistics.median(ratios):.2f}"
    )


if __name__ == "__main__":
    main()
