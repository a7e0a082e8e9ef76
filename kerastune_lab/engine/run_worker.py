"""Training planned runs: the body of a local worker process and of a Ray
trial.

A worker process imports Keras once and then trains one planned run
after another. Each run must give exactly what a fresh `kerastune-lab
run` process gives (same history.csv and steps.csv to the last digit), so
Keras's process-wide state is reset before every run: the session (layer
name counters, the global seed generator, cached functions), the dtype
policy and the distribution, as they were when the worker started.
Random seeds, TensorFlow's op determinism and the data order are set by
the run itself (`training.determinism`, keyed by its seed and epoch).
"""

import contextlib
import ctypes
import os
import pathlib
import signal
import sys
import time
import traceback

LOCAL_ADVICE = (
    "lower --runs-per-gpu (or --jobs) so that each run gets a larger share"
)


def train_planned_run(planned, callbacks=(), verbose=2, echo=print):
    """Trains `planned` into its run directory, resuming an interrupted
    run from its last backed-up epoch; a complete one is left alone.

    The resumed run trains the config its own config.json recorded, as
    `kerastune-lab run --resume` does.
    """
    from kerastune_lab.config import load_run_config
    from kerastune_lab.run_directory import RunDirectory
    from kerastune_lab.training.run_experiment import run_experiment

    run = RunDirectory(planned.run_dir)
    if run.is_complete():
        return
    resume = run.is_run()
    config = load_run_config(run.path) if resume else planned.config
    with _environment(KERASTUNE_LAB_CACHE_DIR=planned.cache_dir):
        run_experiment(
            config,
            run_dir=run.path,
            resume=resume,
            verbose=verbose,
            echo=echo,
            callbacks=list(callbacks),
        )


@contextlib.contextmanager
def _environment(**values):
    """Sets the environment variables whose value is not None, for the
    duration."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update({k: str(v) for k, v in values.items() if v is not None})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def output_to(path):
    """Sends file descriptors 1 and 2 (Python's prints, Keras's epoch
    lines and the native libraries' messages alike) to the end of `path`
    for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab", buffering=0) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def resident_memory_mib():
    """This process's resident memory (VmRSS), in MiB; NaN off Linux."""
    try:
        status = pathlib.Path("/proc/self/status").read_text()
    except OSError:
        return float("nan")
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class KerasState:
    """Keras's process-wide settings as they were at creation, put back
    by `reset` before each run of a worker."""

    def __init__(self):
        import keras

        self._policy = keras.config.dtype_policy().name
        self._distribution = keras.distribution.distribution()

    def reset(self):
        import keras

        # free_memory collects the last run's objects now (0.3 s): left to
        # Python's own collector, a worker's memory saw-tooths 9% higher
        # over 40 runs (benchmarks/memory_growth.py).
        keras.backend.clear_session(free_memory=True)
        keras.config.set_dtype_policy(self._policy)
        keras.distribution.set_distribution(self._distribution)


def failure_message(exception, advice=LOCAL_ADVICE):
    """A failed run's reason in one line; where a process given a share
    of a GPU ran out of GPU memory, `advice` (the setting to change)."""
    from kerastune_lab.devices.gpu_memory_share import (
        is_out_of_memory,
        shared_fraction,
    )

    text = f"{type(exception).__name__}: {exception}"
    first_line = text.splitlines()[0]
    fraction = shared_fraction()
    if fraction is None or not is_out_of_memory(text):
        return first_line
    return (
        f"ran out of GPU memory with {fraction:.1%} of the GPU's memory: "
        f"{advice} ({first_line})"
    )


def _die_with_parent():
    """Asks Linux to kill this process when the process that started it
    dies: an orphaned worker must never keep writing into a run that a
    new `compare` resumes."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the pipe's EOF still ends an idle worker


def worker_main(connection, environment):
    """A worker process: trains each PlannedRun it receives, replies with
    a report dict, and exits on None or when the parent goes away.

    Args:
        connection: Its end of a `multiprocessing.Pipe`.
        environment: Variables set before Keras is imported (threads,
            compilation caches): they only take effect at start-up.
    """
    _die_with_parent()
    os.environ.update(environment)
    from kerastune_lab.devices.gpu_memory_share import apply_gpu_memory_share
    from kerastune_lab.load_backend_quietly import load_backend_quietly

    load_backend_quietly()  # the same imports as `kerastune-lab run`
    apply_gpu_memory_share()  # before the backend's first operation
    state = KerasState()
    while True:
        try:
            planned = connection.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if planned is None:
            return
        start = time.perf_counter()
        error = ""
        with output_to(planned.log):
            try:
                state.reset()
                train_planned_run(planned)
            except KeyboardInterrupt:
                return
            except BaseException as exception:
                traceback.print_exc()
                error = failure_message(exception)
        connection.send(
            {
                "name": planned.name,
                "error": error,
                "seconds": time.perf_counter() - start,
                "memory_mib": resident_memory_mib(),
            }
        )
