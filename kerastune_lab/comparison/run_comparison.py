"""Runs every cell x seed of a grid, each in a fresh process, resumably."""

import hashlib
import json
import os
import pathlib
import subprocess
import sys
import time

from kerastune_lab.comparison.grid import seed_values
from kerastune_lab.comparison.study_controls import (
    control_cells,
    first_stage_cells,
)
from kerastune_lab.comparison.summarize import collect
from kerastune_lab.errors import UserError
from kerastune_lab.run_directory import RunDirectory, write_json_atomic

DEFAULT_STUDY = (
    pathlib.Path(__file__).resolve().parents[2]
    / "experiments"
    / "sd_study.toml"
)


def default_study():
    if not DEFAULT_STUDY.is_file():
        raise UserError(
            f"The default SD study {DEFAULT_STUDY} is missing (it ships in "
            "the repository's experiments/ folder; install with pip install "
            "-e . from a checkout, or pass a CONFIG)."
        )
    return DEFAULT_STUDY


def default_jobs():
    """Two runs at once where there are two CPUs or more: small models
    leave cores idle in one process."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def comparison_dir(runs_dir, config, seeds):
    """runs_dir/compare-<name>-<hash>: the same study maps to one folder."""
    identity = json.dumps(
        {"config": config.to_dict(), "seeds": seeds}, sort_keys=True
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    return pathlib.Path(runs_dir) / f"compare-{config.name}-{digest}"


def is_complete(run_dir):
    return RunDirectory(run_dir).is_complete()


def _worker_environment(jobs, cache_dir):
    """The environment of a run's process: the study's corpus cache, and
    with several jobs at once, an equal share of the CPU threads each."""
    env = dict(os.environ, KERASTUNE_LAB_CACHE_DIR=str(cache_dir))
    if jobs > 1:
        threads = str(max(1, (os.cpu_count() or 1) // jobs))
        env.update(
            OMP_NUM_THREADS=threads,
            TF_NUM_INTRAOP_THREADS=threads,
            TF_NUM_INTEROP_THREADS="1",
        )
        env["XLA_FLAGS"] = (
            env.get("XLA_FLAGS", "") + " --xla_cpu_multi_"
            "thread_eigen=false intra_op_parallelism_threads=" + threads
        ).strip()
    return env


def start_run(config_path, overrides, run_dir, log_path, env):
    """Starts one run in a fresh Python process (memory never carries over
    from one run to the next), resuming it if an earlier attempt was
    interrupted. Returns (process, open log file)."""
    command = [sys.executable, "-m", "kerastune_lab", "run", "--verbose", "2"]
    if RunDirectory(run_dir).is_run():
        command += ["--resume", str(run_dir)]
    else:
        command += [str(config_path), "--run-dir", str(run_dir)]
        for override in overrides:
            command += ["--set", override]
    log = open(log_path, "a")  # noqa: SIM115 (closed when the run ends)
    try:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    except BaseException:
        log.close()
        raise
    return process, log


def plan_study(config, config_path, overrides, seeds, runs_dir):
    """The comparison directory and its first-stage plan, shared by every
    engine.

    Returns (comparison dir, plan): `plan` lists (cell, seed, run_dir) for
    every run of the grid and the schedule-free cells, in grid order.
    Writes study.json, which the aggregate reads.
    """
    if not config.grid:
        raise UserError(
            f"{config_path} has no [grid] section: compare needs keys mapped "
            'to lists, e.g. [grid] "train.learning_rate" = [1e-3, 1e-4].'
        )
    out = comparison_dir(runs_dir, config, seeds)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(exist_ok=True)
    study_file = out / "study.json"
    earlier = (
        json.loads(study_file.read_text()) if study_file.is_file() else {}
    )
    write_json_atomic(
        study_file,
        {
            "config": config.to_dict(),
            "config_path": str(config_path),
            "overrides": list(overrides),
            "seeds": seed_values(config.train.seed, seeds),
            "control_rates": earlier.get("control_rates", {}),
        },
    )
    return out, _plan(out, first_stage_cells(config), config, seeds)


def _plan(out, cells, config, seeds):
    plan = [
        (cell, seed, out / "runs" / f"{cell.name}-seed{seed}")
        for cell in cells
        for seed in seed_values(config.train.seed, seeds)
    ]
    if config.train.tensorboard:
        # One log directory for the study: `tensorboard --logdir
        # <study>/tensorboard` shows every run side by side.
        logs = out / "tensorboard"
        logs.mkdir(exist_ok=True)
        for _, _, run_dir in plan:
            link = logs / run_dir.name
            if not link.is_symlink():
                link.symlink_to(
                    pathlib.Path("..")
                    / "runs"
                    / run_dir.name
                    / RunDirectory.TENSORBOARD,
                    target_is_directory=True,
                )
    return plan


def plan_controls(out, config, seeds, plan):
    """The second stage: matched-rate controls computed from the finished
    first-stage runs of `plan`. The rates are kept in study.json, so a
    resumed study trains its controls at the rates they started with."""
    if not config.controls.matched_rate:
        return []
    study = json.loads((out / "study.json").read_text())
    cells, rates = control_cells(
        config, collect(plan), study.get("control_rates")
    )
    study["control_rates"] = rates
    write_json_atomic(out / "study.json", study)
    return _plan(out, cells, config, seeds)


def run_overrides(overrides, cell, seed):
    """The --set overrides that turn the study's config into one run's."""
    return list(overrides) + cell.overrides() + [f"train.seed={seed}"]


def log_path(out, run_dir):
    return out / "logs" / f"{run_dir.name}.log"


def echo_outcome(echo, prefix, run_dir, seconds, extra=""):
    """One line per finished run: its test loss and verdict."""
    run = RunDirectory(run_dir)
    metrics = run.read_metrics()
    diagnosis = run.read_diagnosis()
    verdict = ", ".join([diagnosis["verdict"], *diagnosis.get("flags", [])])
    echo(
        f"{prefix}: test_loss {metrics['test_loss']:.4f}, {verdict}, "
        f"{seconds:.0f} s{extra}"
    )


def run_comparison(
    config, config_path, overrides, seeds, runs_dir, echo=print, jobs=1
):
    """Runs the study on this machine; returns (comparison dir, plan,
    failures).

    Up to `jobs` runs train at once, each in its own process with an equal
    share of the CPU threads. The matched-rate controls run once the
    first stage is done. A run whose directory already has metrics.json is
    complete and skipped, so re-running the same command resumes; an
    interrupted one resumes from its last backed-up epoch.
    """
    out, plan = plan_study(config, config_path, overrides, seeds, runs_dir)
    env = _worker_environment(jobs, out / "cache")
    failures = _run_plan(
        out, plan, config_path, overrides, env, jobs, echo, ""
    )
    controls = plan_controls(out, config, seeds, plan)
    if controls:
        echo(f"Matched-rate controls: {len(controls)} runs")
        failures += _run_plan(
            out, controls, config_path, overrides, env, jobs, echo, "control "
        )
    return out, plan + controls, failures


def _wait_for_one(running):
    """(pid, status, resource usage) of the first of `running`'s processes
    to end (only ours: a caller's other children are left alone)."""
    while running:
        for pid in running:
            found, status, usage = os.wait4(pid, os.WNOHANG)
            if found:
                return found, status, usage
        time.sleep(0.1)
    return None


def _run_plan(out, plan, config_path, overrides, env, jobs, echo, kind):
    """Trains the runs of `plan`, `jobs` at a time; returns the failures."""
    failures = []
    pending = list(enumerate(plan, 1))
    running = {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                i, (cell, seed, run_dir) = pending.pop(0)
                prefix = f"[{kind}{i}/{len(plan)}] {cell.label}, seed {seed}"
                if is_complete(run_dir):
                    echo(f"{prefix}: complete, skipped")
                    continue
                if not RunDirectory(run_dir).claim():
                    echo(f"{prefix}: running in another process, skipped")
                    continue
                log = log_path(out, run_dir)
                process, handle = start_run(
                    config_path,
                    run_overrides(overrides, cell, seed),
                    run_dir,
                    log,
                    env,
                )
                running[process.pid] = (
                    process,
                    handle,
                    prefix,
                    cell,
                    seed,
                    run_dir,
                    log,
                    time.perf_counter(),
                )
            finished = _wait_for_one(running)
            if finished is None:
                continue
            pid, status, usage = finished
            process, handle, prefix, cell, seed, run_dir, log, start = (
                running.pop(pid)
            )
            handle.close()
            RunDirectory(run_dir).release()
            code = os.waitstatus_to_exitcode(status)
            process.returncode = code
            seconds = time.perf_counter() - start
            if code == 0 and is_complete(run_dir):
                # ru_maxrss is in KiB on Linux.
                echo_outcome(
                    echo,
                    prefix,
                    run_dir,
                    seconds,
                    f", peak {usage.ru_maxrss / 1024:.0f} MiB",
                )
            else:
                failures.append((cell, seed, log))
                echo(f"{prefix}: FAILED (exit {code}); log: {log}")
    finally:
        for process, handle, *_, run_dir, _, _ in running.values():
            process.kill()
            process.wait()
            handle.close()
            RunDirectory(run_dir).release()
    return failures
