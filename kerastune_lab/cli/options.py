"""Options and helpers shared by the command-line entry points."""

import functools
import sys

import click

from kerastune_lab.engine.gpu_slots import DEFAULT_RUNS_PER_GPU
from kerastune_lab.errors import UserError

RUNS_DIR = "runs"


class InputError(click.ClickException):
    """A bad input found after parsing (a data file, a key, a run folder):
    one line, "Error: ...", exit 2. Unlike click's usage errors it prints
    no usage banner: the command line itself parsed."""

    exit_code = 2


def user_errors(command):
    """Turns UserError into an exit-2 `InputError`, without traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except UserError as error:
            raise InputError(str(error)) from None

    return wrapper


set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override one key of the experiment file (value parsed as TOML). "
    "Repeatable.",
)
seeds_option = click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=None,
    help="Seeds per cell (train.seed, +1, ...); comparisons need at least "
    "3 [default: the study's analysis.seeds, else 3].",
)
runs_dir_option = click.option(
    "--runs-dir",
    type=click.Path(file_okay=False),
    default=RUNS_DIR,
    show_default=True,
    help="Folder that receives what the command writes (run, study, "
    "improve or report folders).",
)


def echo_run_result(result):
    """Scores, verdict, and the run directory as the last line."""
    m = result.metrics
    scores = ", ".join(
        f"{k} {v:.4g}"
        for k, v in m.items()
        if k.startswith("test_") or k.endswith("_accuracy")
    )
    click.echo(
        f"{scores}; best epoch {m['best_epoch']}, {m['epochs_run']} "
        f"epochs, {m['wall_seconds']:.1f} s"
    )
    click.echo(f"diagnosis: {result.diagnosis.headline}")
    click.echo(str(result.run_dir))


def keras_verbose(verbose):
    """Keras's progress display: "auto" is a progress bar in a terminal
    and one line per epoch in a file or pipe (a bar there is a stream of
    carriage returns)."""
    if verbose != "auto":
        return int(verbose)
    return 1 if sys.stdout.isatty() else 2


_EXECUTOR_OPTIONS = (
    click.option(
        "--jobs",
        type=click.IntRange(min=1),
        default=None,
        help="local: runs trained at once, each in a long-lived worker "
        "process with an equal share of the CPU threads [default: on a host "
        "with NVIDIA GPUs, GPUs x --runs-per-gpu; else 2 on a machine with "
        "2 or more CPUs, else 1].",
    ),
    click.option(
        "--runs-per-gpu",
        type=click.IntRange(min=1),
        default=None,
        metavar="N",
        help="local, on a host with NVIDIA GPUs: runs trained at once on "
        "each GPU. Each worker is pinned to one GPU (round-robin, "
        "CUDA_VISIBLE_DEVICES) and limited to 1/N of its memory, less 2 GiB "
        "for CUDA itself, before its backend starts (JAX: "
        "XLA_PYTHON_CLIENT_MEM_FRACTION; TensorFlow: a memory limit); lower "
        "it if runs fail out of GPU memory. No "
        f"effect without GPUs [default: {DEFAULT_RUNS_PER_GPU}, or what "
        "--jobs puts on a GPU].",
    ),
    click.option(
        "--engine",
        type=click.Choice(["local", "ray"]),
        default="local",
        show_default=True,
        help="local: worker processes on this machine, each training one "
        "run after another. ray: every run is a Ray Tune trial (pip "
        "install 'kerastune-lab[ray]').",
    ),
    click.option(
        "--address",
        help="ray: join this Ray cluster (e.g. 'auto' or "
        "'head-node:6379') instead of starting a local instance.",
    ),
    click.option(
        "--cpus-per-trial",
        type=click.FloatRange(min=0),
        default=1.0,
        show_default=True,
        help="ray: CPUs reserved per trial.",
    ),
    click.option(
        "--gpus-per-trial",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=True,
        help="ray: GPUs reserved per trial; below 1 (e.g. 0.25), each "
        "trial's process is also limited to that share of its GPU's memory "
        "(JAX, TensorFlow, torch).",
    ),
    click.option(
        "--worker-runs",
        type=click.IntRange(min=1),
        default=None,
        help="local: replace a worker process after this many runs "
        "[default: 200].",
    ),
    click.option(
        "--worker-memory-growth",
        "worker_memory",
        type=click.IntRange(min=0),
        default=None,
        metavar="MIB",
        help="local: replace a worker whose resident memory after a run has "
        "grown this many MiB since its first run [default: 512].",
    ),
)


def executor_options(command):
    """The engine options of every command that trains many runs
    (`compare`, `improve`): they reach the command as the keyword arguments
    that `make_executor` takes."""
    for option in reversed(_EXECUTOR_OPTIONS):
        command = option(command)
    return command


def make_executor(
    out,
    engine="local",
    jobs=None,
    runs_per_gpu=None,
    address=None,
    cpus_per_trial=1.0,
    gpus_per_trial=0.0,
    worker_runs=None,
    worker_memory=None,
):
    """The engine that trains a command's runs, from `executor_options`.

    Args:
        out: The command's output folder (a Ray engine keeps its
            experiments in out/ray, the local workers their compilation
            cache in out/cache).

    Returns:
        A `LocalPool` or a `RayExecutor` (raises `UserError` where Ray is
        not installed, or for options of the other engine).
    """
    local_only = {
        "--jobs": jobs,
        "--runs-per-gpu": runs_per_gpu,
        "--worker-runs": worker_runs,
        "--worker-memory-growth": worker_memory,
    }
    if engine == "ray":
        given = [n for n, value in local_only.items() if value is not None]
        if given:
            raise UserError(
                f"{given[0]} sets the local engine's worker processes; with "
                "--engine ray use --cpus-per-trial / --gpus-per-trial."
            )
        from kerastune_lab.engine.ray_engine import RayExecutor

        return RayExecutor(
            out / "ray",
            address=address,
            cpus_per_trial=cpus_per_trial,
            gpus_per_trial=gpus_per_trial,
            echo=click.echo,
        )
    if address:
        raise UserError(
            "--address joins a Ray cluster and needs --engine ray."
        )
    return _local_pool(out, jobs, runs_per_gpu, worker_runs, worker_memory)


def _local_pool(out, jobs, runs_per_gpu, worker_runs, worker_memory):
    """The local engine: on a host with NVIDIA GPUs, its workers pinned to
    them (`GpuSlots`, described in one line); else CPU workers."""
    from kerastune_lab.devices.visible_gpus import visible_gpus
    from kerastune_lab.engine.gpu_slots import GpuSlots
    from kerastune_lab.engine.local_pool import (
        MAX_RUNS_PER_WORKER,
        MEMORY_GROWTH_MIB,
        LocalPool,
        default_jobs,
        worker_environment,
    )

    gpus = visible_gpus()
    slots = None
    if gpus:
        slots = GpuSlots.plan(gpus, jobs, runs_per_gpu)
        click.echo(slots.describe())
        jobs = slots.jobs
    elif runs_per_gpu is not None:
        click.echo(
            "--runs-per-gpu has no effect here: nvidia-smi shows no NVIDIA "
            "GPU to this process.",
            err=True,
        )
    jobs = jobs or default_jobs()
    return LocalPool(
        jobs,
        environment=worker_environment(jobs, out / "cache"),
        max_runs_per_worker=worker_runs or MAX_RUNS_PER_WORKER,
        memory_growth_mib=(
            MEMORY_GROWTH_MIB if worker_memory is None else worker_memory
        ),
        worker_environments=slots.environments() if slots else None,
    )


def finish(out, failures, failed="failed"):
    """Ends a command that trained runs: the logs of the runs that
    `failed` on stderr, the output folder as the last line of stdout, and
    exit 1 if there were any (re-running the command retries them)."""
    if failures:
        click.echo(
            f"{len(failures)} run(s) {failed}; re-run the same command to "
            "retry them. Logs:",
            err=True,
        )
        for outcome in failures:
            click.echo(f"  {outcome.planned.log}", err=True)
    click.echo(str(out))
    if failures:
        raise SystemExit(1)
