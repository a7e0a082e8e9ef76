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

With --worker, the same cell is trained in the local engine's long-lived
worker processes instead (one `LocalPool` worker per variant, all alive
at once and used in turn), as `compare` now runs a study. A worker's
imports are paid once, so a run's cost is T(E) = F + E x S for E epochs:
each round trains the cell for --short and --long epochs in every
variant's worker, and F = (long x T(short) - short x T(long)) / (long -
short) is the fixed cost per run (data, model, compilation, test, files),
S the time per epoch. Worker variants add compilation caches (XLA's
persistent cache on TensorFlow, JAX's compilation cache) and one thread
per run (as with `compare --jobs 2` on 2 cores).

    python benchmarks/run_cost.py --worker [--variants tf,tf-cache,jax,...]
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
    from kerastune_lab.training.experiment_runner import ExperimentRunner

    marks = {"process start and imports": time.time() - started}

    config = load_experiment(config_path, overrides)
    epoch_times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(time.perf_counter() - self.start)

    phase = {}

    class TimedRunner(ExperimentRunner):
        def prepare(self):
            start = time.perf_counter()
            super().prepare()
            phase["data and model build"] = time.perf_counter() - start

    start = time.perf_counter()
    result = TimedRunner(
        config,
        out / "run",
        verbose=0,
        echo=lambda *a: None,
        callbacks=[Timer()],
    ).run()
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


def worker_environment(variant, cache):
    """The start-up environment of a worker variant: backend, compilation
    cache, threads."""
    from kerastune_lab.engine.local_pool import worker_environment

    backend = "jax" if variant.startswith("jax") else "tensorflow"
    env = {"KERAS_BACKEND": backend}
    if "1thread" in variant:
        env.update(worker_environment(jobs=2))  # 2 cores: 1 thread each
    if "cache" in variant:
        folder = cache / f"compile-{variant}"
        folder.mkdir(exist_ok=True)
        if backend == "jax":
            env.update(
                JAX_COMPILATION_CACHE_DIR=str(folder),
                JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
            )
        else:
            env["TF_XLA_FLAGS"] = (
                f"--tf_xla_persistent_cache_directory={folder} "
                "--tf_xla_disable_strict_signature_checks=true"
            )
    return env


def worker_mode(args):
    """Fixed cost per run in a long-lived worker, per variant."""
    from kerastune_lab.config import load_experiment, with_settings
    from kerastune_lab.engine.local_pool import LocalPool
    from kerastune_lab.engine.planned_run import COMPLETE, PlannedRun
    from kerastune_lab.study.grid import Cell

    config = load_experiment(args.config, args.overrides)
    folder = pathlib.Path(tempfile.mkdtemp(prefix="run_cost_worker_"))
    counter = iter(range(10**6))

    def planned(variant, epochs):
        number = next(counter)
        settings = {
            "train.epochs": epochs,
            **VARIANT_SETTINGS.get(variant, {}),
        }
        return PlannedRun(
            cell=Cell(()),
            seed=config.train.seed,
            run_dir=folder / "runs" / f"{variant}-{number}",
            config=with_settings(config, settings),
            log=folder / f"{variant}-{number}.log",
            cache_dir=folder,
        )

    variants = args.variants.split(",")
    pools = {
        v: LocalPool(1, environment=worker_environment(v, folder))
        for v in variants
    }
    times = {(v, e): [] for v in variants for e in (args.short, args.long)}
    steps = {}
    try:
        for v in variants:  # warm-up: first run of each worker, untimed
            pools[v].run([planned(v, args.short)])
        for r in range(args.repeats):
            order = variants if r % 2 == 0 else variants[::-1]
            for v in order:
                for epochs in (args.short, args.long):
                    run = planned(v, epochs)
                    (outcome,) = pools[v].run([run])
                    assert outcome.state == COMPLETE, outcome.message
                    times[(v, epochs)].append(outcome.seconds)
                    lines = (run.run_dir / "steps.csv").read_text()
                    steps[v] = (len(lines.splitlines()) - 1) / epochs
                print(
                    f"round {r + 1} {v}: "
                    + ", ".join(
                        f"{e} epochs {times[(v, e)][-1]:.1f} s"
                        for e in (args.short, args.long)
                    ),
                    flush=True,
                )
    finally:
        for pool in pools.values():
            pool.close()
    print_fixed_and_step_cost(args, variants, times, steps)


def print_fixed_and_step_cost(args, variants, times, steps):
    """Splits each variant's median run time into a fixed cost and a cost
    per step, from its short and long runs."""
    print(f"\nmedians, {args.short} vs {args.long} epochs:")
    for v in variants:
        short = statistics.median(times[(v, args.short)])
        long = statistics.median(times[(v, args.long)])
        per_epoch = (long - short) / (args.long - args.short)
        fixed = short - args.short * per_epoch
        print(
            f"{v}: fixed cost per run {fixed:.2f} s, "
            f"{per_epoch / steps[v] * 1000:.1f} ms per step (epoch time "
            f"{per_epoch:.2f} s / {steps[v]:.0f} steps, eval included)"
        )


# Config settings of worker variants (everything else is environment).
VARIANT_SETTINGS = {
    "tf-nojit": {"train.jit_compile": False},
    "tf-1thread-nojit": {"train.jit_compile": False},
    "tf-spe8": {"train.steps_per_execution": 8},
    "tf-1thread-spe8": {"train.steps_per_execution": 8},
    "tf-sd2": {"lr_adapt.mode": "sd2"},
    "tf-1thread-sd2": {"lr_adapt.mode": "sd2"},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", default=str(REPO / "experiments" / "sd_study.toml")
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", default="tf,tf-nojit,jax")
    parser.add_argument("--child")
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--short", type=int, default=1)
    parser.add_argument("--long", type=int, default=3)
    args = parser.parse_args()
    if args.child:
        return child(args.config, args.overrides, pathlib.Path(args.child))
    if args.worker:
        return worker_mode(args)
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
