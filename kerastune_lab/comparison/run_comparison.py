"""Runs every cell x seed of a grid, each in a fresh process, resumably."""

import hashlib
import json
import os
import pathlib
import subprocess
import sys
import time

from kerastune_lab.comparison.grid import expand_grid, seed_values
from kerastune_lab.errors import UserError

DEFAULT_STUDY = (
    pathlib.Path(__file__).resolve().parents[2] / "experiments"
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


def comparison_dir(runs_dir, config, seeds):
    """runs_dir/compare-<name>-<hash>: the same study maps to one folder."""
    identity = json.dumps({"config": config.to_dict(), "seeds": seeds},
                          sort_keys=True)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    return pathlib.Path(runs_dir) / f"compare-{config.name}-{digest}"


def is_complete(run_dir):
    return (run_dir / "metrics.json").is_file()


def claim(run_dir):
    """Takes runs/<run>.lock for this process; False if another live
    process holds it (two `compare` commands on one study share the work
    and never write into the same run)."""
    lock = run_dir.with_name(run_dir.name + ".lock")
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                os.kill(int(lock.read_text() or 0), 0)
                return False  # its owner is alive
            except (ProcessLookupError, ValueError):
                lock.unlink(missing_ok=True)  # left by a dead process
                continue
            except PermissionError:
                return False
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True
    return False


def release(run_dir):
    run_dir.with_name(run_dir.name + ".lock").unlink(missing_ok=True)


def run_cell(config_path, overrides, run_dir, log_path):
    """Trains one cell in a fresh Python process (memory never carries over
    from one cell to the next), resuming it if an earlier attempt was
    interrupted. Returns (exit code, peak resident memory of that process
    in MiB)."""
    command = [sys.executable, "-m", "kerastune_lab", "run", "--verbose", "2"]
    if (run_dir / "config.json").is_file():
        command += ["--resume", str(run_dir)]
    else:
        command += [str(config_path), "--run-dir", str(run_dir)]
        for override in overrides:
            command += ["--set", override]
    with open(log_path, "a") as log:
        process = subprocess.Popen(command, stdout=log,
                                   stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
        process.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux.
    return process.returncode, usage.ru_maxrss / 1024


def plan_study(config, config_path, overrides, seeds, runs_dir):
    """The comparison directory and its plan, shared by every engine.

    Returns (comparison dir, plan): `plan` lists (cell, seed, run_dir) for
    every run, in grid order. Writes study.json, which the aggregate reads.
    """
    if not config.grid:
        raise UserError(
            f"{config_path} has no [grid] section: compare needs keys mapped "
            'to lists, e.g. [grid] "train.learning_rate" = [1e-3, 1e-4].'
        )
    out = comparison_dir(runs_dir, config, seeds)
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(exist_ok=True)
    (out / "study.json").write_text(json.dumps(
        {"config": config.to_dict(), "config_path": str(config_path),
         "overrides": list(overrides),
         "seeds": seed_values(config.train.seed, seeds)}, indent=2))
    plan = [(cell, seed, runs / f"{cell.name}-seed{seed}")
            for cell in expand_grid(config.grid)
            for seed in seed_values(config.train.seed, seeds)]
    return out, plan


def run_overrides(overrides, cell, seed):
    """The --set overrides that turn the study's config into one run's."""
    return list(overrides) + cell.overrides() + [f"train.seed={seed}"]


def log_path(out, run_dir):
    return out / "logs" / f"{run_dir.name}.log"


def echo_outcome(echo, prefix, run_dir, seconds, extra=""):
    """One line per finished run: its test loss and verdict."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    verdict = json.loads((run_dir / "diagnosis.json").read_text())["verdict"]
    echo(f"{prefix}: test_loss {metrics['test_loss']:.4f}, {verdict}, "
         f"{seconds:.0f} s{extra}")


def run_comparison(config, config_path, overrides, seeds, runs_dir,
                   echo=print):
    """Runs the study on this machine; returns (comparison dir, plan,
    failures).

    A run whose directory already has metrics.json is complete and skipped,
    so re-running the same command resumes; an interrupted one resumes from
    its last backed-up epoch.
    """
    out, plan = plan_study(config, config_path, overrides, seeds, runs_dir)
    failures = []
    for i, (cell, seed, run_dir) in enumerate(plan, 1):
        prefix = f"[{i}/{len(plan)}] {cell.label}, seed {seed}"
        if is_complete(run_dir):
            echo(f"{prefix}: complete, skipped")
            continue
        if not claim(run_dir):
            echo(f"{prefix}: running in another process, skipped")
            continue
        start = time.perf_counter()
        log = log_path(out, run_dir)
        try:
            code, peak_mib = run_cell(
                config_path, run_overrides(overrides, cell, seed), run_dir,
                log)
        finally:
            release(run_dir)
        seconds = time.perf_counter() - start
        if code == 0 and is_complete(run_dir):
            echo_outcome(echo, prefix, run_dir, seconds,
                         f", peak {peak_mib:.0f} MiB")
        else:
            failures.append((cell, seed, log))
            echo(f"{prefix}: FAILED (exit {code}); log: {log}")
    return out, plan, failures
