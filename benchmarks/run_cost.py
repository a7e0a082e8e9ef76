"""Where a run's time goes: fixed cost against training steps.

Each repeat trains one cell of the default SD study (or CONFIG) in a fresh
Python process, as `compare` does, and times its phases: process start and
imports, data (corpus, tokenizer, chunks; with and without the study's
corpus cache), model build, the first epoch (which includes compiling the
train step), the steady epochs, and the end of the run (test split, model
and plots). Fixed cost = everything but steps x the steady time per step.
Variants run interleaved, round-robin, so a shared machine's drift hits
all alike; medians are reported.

    python benchmarks/run_cost.py [--repeats 3] [--variants tf,tf-nojit,jax]
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
VARIANTS = {
    "tf": {"KERAS_BACKEND": "tensorflow"},
    "tf-nojit": {
        "KERAS_BACKEND": "tensorflow",
        "SET": "train.jit_compile=false",
    },
    "jax": {"KERAS_BACKEND": "jax"},
}


def child(config_path, overrides, out):
    """Runs in the timed process: one run, its phases timed."""
    started = float(os.environ["RUN_COST_START"])
    import keras

    from kerastune_lab.config import load_experiment
    from kerastune_lab.training import run_experiment as module

    marks = {"process start and imports": time.time() - started}

    config = load_experiment(config_path, overrides)
    epoch_times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(time.perf_counter() - self.start)

    prepare = module.prepare_task
    phase = {}

    def timed_prepare(config):
        start = time.perf_counter()
        task = prepare(config)
        phase["data and model build"] = time.perf_counter() - start
        return task

    module.prepare_task = timed_prepare
    start = time.perf_counter()
    result = module.run_experiment(
        config,
        run_dir=out / "run",
        verbose=0,
        echo=lambda *a: None,
        callbacks=[Timer()],
    )
    total_run = time.perf_counter() - start
    steps = len((result.run_dir / "steps.csv").read_text().splitlines()) - 1
    per_step = statistics.median(epoch_times[1:]) / (steps / len(epoch_times))
    marks.update(phase)
    marks["first epoch (compiles)"] = epoch_times[0]
    marks["steady epochs"] = sum(epoch_times[1:])
    marks["test, save, plots"] = (
        total_run - phase["data and model build"] - sum(epoch_times)
    )
    marks["steps"] = steps
    marks["seconds per steady step"] = per_step
    marks["total"] = time.time() - started
    marks["fixed cost"] = marks["total"] - steps * per_step
    print(json.dumps(marks))


def one(variant, config, overrides, cache_dir):
    env = dict(
        os.environ,
        RUN_COST_START=repr(time.time()),
        TF_CPP_MIN_LOG_LEVEL="3",
        **{k: v for k, v in VARIANTS[variant].items() if k != "SET"},
    )
    if cache_dir:
        env["KERASTUNE_LAB_CACHE_DIR"] = str(cache_dir)
    extra = [VARIANTS[variant]["SET"]] if "SET" in VARIANTS[variant] else []
    with tempfile.TemporaryDirectory() as out:
        result = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                out,
                "--config",
                config,
                *[arg for o in overrides + extra for arg in ("--set", o)],
            ],
            env=env,
            capture_output=True,
            text=True,
        )
    if result.returncode:
        raise SystemExit(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", default=str(REPO / "experiments" / "sd_study.toml")
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", default="tf,tf-nojit,jax")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        return child(args.config, args.overrides, pathlib.Path(args.child))
    cache = pathlib.Path(tempfile.mkdtemp(prefix="run_cost_cache_"))
    one("tf", args.config, args.overrides, cache)  # fills the corpus cache
    variants = [
        (v, c) for v in args.variants.split(",") for c in ("cache", "no cache")
    ]
    results = {key: [] for key in variants}
    for r in range(args.repeats):
        order = variants if r % 2 == 0 else variants[::-1]
        for variant, cached in order:
            marks = one(
                variant,
                args.config,
                args.overrides,
                cache if cached == "cache" else None,
            )
            results[(variant, cached)].append(marks)
            print(
                f"round {r + 1} {variant} ({cached}): total "
                f"{marks['total']:.1f} s, fixed {marks['fixed cost']:.1f} s,"
                f" {marks['steps']} steps x "
                f"{marks['seconds per steady step'] * 1000:.1f} ms",
                flush=True,
            )
    print("\nmedians (seconds):")
    for (variant, cached), runs in results.items():
        keys = [k for k in runs[0] if k != "steps"]
        print(
            f"{variant}, {cached}: "
            + ", ".join(
                f"{k} {statistics.median(r[k] for r in runs):.3g}"
                for k in keys
            )
        )


if __name__ == "__main__":
    main()
