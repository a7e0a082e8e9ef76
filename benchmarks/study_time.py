"""Wall time of a real study under `compare`'s engine settings.

By default a shrunk default SD study (4 runs: schedules constant/linear x
modes none/sd2, one seed, 2 epochs, no controls); with --full the default
study itself (experiments/sd_study.toml with its controls, --seeds
seeds). Each repeat is one `kerastune-lab compare` in a fresh process, for
each variant BACKEND-jobsN (N runs at once: --jobs 1 uses every core in
one run, --jobs 2 gives each of two runs half of them) or BACKEND-gpuN (a
GPU host: N runs per GPU, --runs-per-gpu N, --jobs left to its default
GPUs x N). Variants run interleaved, alternating their order; medians
are reported with their ratio to the first variant. A failed study is
recorded (exit code, runs failed), not fatal; --json is rewritten after
every study, so an interrupted measurement keeps what it finished.

    python benchmarks/study_time.py [--repeats 3] \
        [--variants tf-jobs1,tf-jobs2,jax-jobs1,jax-jobs2] [--set ...]
    KERAS_BACKEND=jax python benchmarks/study_time.py --full --seeds 1 \
        --variants jax-gpu1,jax-gpu2,jax-gpu4,jax-gpu8 --repeats 1 \
        --json gpu.json --keep gpu_studies/
"""

import argparse
import json
import os
import pathlib
import re
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
# What a study's comparison directory holds besides its runs: kept with
# --keep (its primary table, summary and report).
KEPT_FILES = ("summary.csv", "comparisons.csv", "report.md", "study.json")


def compare_command(variant, args, runs):
    """The `compare` command and environment of one variant."""
    match = re.fullmatch(r"(tf|jax|torch)-(jobs|gpu)(\d+)", variant)
    if not match:
        raise SystemExit(
            f"Variant {variant!r}: expected BACKEND-jobsN or BACKEND-gpuN "
            "with BACKEND tf, jax or torch (e.g. jax-gpu2)."
        )
    backend, kind, count = match.groups()
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="3",
        KERAS_BACKEND="tensorflow" if backend == "tf" else backend,
        KERASTUNE_LAB_CACHE_DIR=str(args.folder / "corpus"),
    )
    command = [sys.executable, "-m", "kerastune_lab", "compare"]
    command += [str(REPO / "experiments" / "sd_study.toml")]
    command += ["--seeds", str(args.seeds), "--runs-dir", str(runs)]
    command += ["--jobs" if kind == "jobs" else "--runs-per-gpu", count]
    overrides = ([] if args.full else SHRINK) + args.overrides
    command += [arg for o in overrides for arg in ("--set", o)]
    return command, env


def run(variant, args):
    """One study of `variant` from scratch: its wall time and failures."""
    runs = args.folder / variant
    shutil.rmtree(runs, ignore_errors=True)
    command, env = compare_command(variant, args, runs)
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    failed = re.search(r"(\d+) run\(s\) (failed|did not)", result.stderr)
    record = {
        "seconds": seconds,
        "returncode": result.returncode,
        "runs_failed": int(failed.group(1)) if failed else 0,
        "gpu_line": next(
            (x for x in result.stdout.splitlines() if x.startswith("GPUs:")),
            "",
        ),
    }
    if result.returncode:
        record["output_tail"] = (result.stdout + result.stderr)[-3000:]
    lines = result.stdout.strip().splitlines()
    out = pathlib.Path(lines[-1]) if lines else None
    if args.keep and out is not None and out.is_dir():
        kept = args.keep / variant
        kept.mkdir(parents=True, exist_ok=True)
        for name in KEPT_FILES:
            if (out / name).is_file():
                shutil.copy(out / name, kept / name)
    return record


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--variants", default="tf-jobs1,tf-jobs2,jax-jobs1,jax-jobs2"
    )
    parser.add_argument(
        "--full", action="store_true", help="the default study, unshrunk"
    )
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--json", type=pathlib.Path, help="results file")
    parser.add_argument(
        "--keep", type=pathlib.Path, help="copy each study's tables here"
    )
    args = parser.parse_args()
    args.folder = pathlib.Path(tempfile.mkdtemp(prefix="study_time_"))
    return args


def medians(variants, records):
    """{variant: median seconds of its studies that failed no run}."""
    found = {}
    for v in variants:
        clean = [r["seconds"] for r in records[v] if not r["returncode"]]
        if clean:
            found[v] = statistics.median(clean)
    return found


def main():
    args = parse_args()
    variants = args.variants.split(",")
    records = {v: [] for v in variants}
    for r in range(args.repeats):
        for v in variants if r % 2 == 0 else variants[::-1]:
            records[v].append(run(v, args))
            last = records[v][-1]
            print(
                f"round {r + 1} {v}: {last['seconds']:.1f} s, exit "
                f"{last['returncode']}, {last['runs_failed']} run(s) failed",
                flush=True,
            )
            if args.json:
                args.json.write_text(
                    json.dumps({"studies": records}, indent=1)
                )
    found = medians(variants, records)
    print("\nmedians (studies without a failure):")
    base = found.get(variants[0])
    for v, median in found.items():
        ratio = f" ({median / base:.2f} x {variants[0]})" if base else ""
        print(f"{v}: {median:.1f} s{ratio}")
    if args.json:
        args.json.write_text(
            json.dumps({"studies": records, "medians": found}, indent=1)
        )


if __name__ == "__main__":
    main()
