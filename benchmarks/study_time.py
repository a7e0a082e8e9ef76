"""Wall time of a small real study under `compare`'s engine settings.

A shrunk default SD study (4 runs: schedules constant/linear x modes
none/sd2, one seed, 2 epochs, no controls) is run by `kerastune-lab
compare` in a fresh process per repeat, for each variant: the number of
runs trained at once (--jobs 1 uses every core in one run; --jobs 2 gives
each of two runs one core on a 2-core machine) and the Keras backend.
Variants run interleaved, alternating their order; medians are reported
with their ratio to the first variant.

    python benchmarks/study_time.py [--repeats 3] \
        [--variants tf-jobs1,tf-jobs2,jax-jobs1,jax-jobs2] [--set ...]
"""

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
SHRINK = [
    "train.epochs=2",
    'grid."train.schedule"=["constant", "linear"]',
    'grid."lr_adapt.mode"=["none", "sd2"]',
    "controls.matched_rate=[]",
    "controls.schedule_free=false",
    "analysis.primary=[]",
    "analysis.pool_over=[]",
    "analysis.equivalence_margin=0.0",
]


def run(variant, overrides, folder):
    backend, jobs = variant.split("-jobs")
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="3",
        KERAS_BACKEND="jax" if backend == "jax" else "tensorflow",
        KERASTUNE_LAB_CACHE_DIR=str(folder / "corpus"),
    )
    runs = folder / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    command = [sys.executable, "-m", "kerastune_lab", "compare"]
    command += [str(REPO / "experiments" / "sd_study.toml"), "--seeds", "1"]
    command += ["--jobs", jobs, "--runs-dir", str(runs)]
    command += [arg for o in overrides for arg in ("--set", o)]
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(result.stdout[-3000:] + result.stderr[-3000:])
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--variants", default="tf-jobs1,tf-jobs2,jax-jobs1,jax-jobs2"
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    folder = pathlib.Path(tempfile.mkdtemp(prefix="study_time_"))
    overrides = SHRINK + args.overrides
    variants = args.variants.split(",")
    times = {v: [] for v in variants}
    for r in range(args.repeats):
        for v in variants if r % 2 == 0 else variants[::-1]:
            times[v].append(run(v, overrides, folder))
            print(f"round {r + 1} {v}: {times[v][-1]:.1f} s", flush=True)
    base = statistics.median(times[variants[0]])
    print("\nmedians:")
    for v in variants:
        median = statistics.median(times[v])
        print(f"{v}: {median:.1f} s ({median / base:.2f} x {variants[0]})")


if __name__ == "__main__":
    main()
