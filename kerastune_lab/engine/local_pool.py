"""The local engine: long-lived worker processes on this machine.

`jobs` workers each import Keras once and then train planned runs one
after another (a fresh process per run paid ~4 s of imports and start-up
each time). Memory cannot build up without bound: a worker is replaced
after `max_runs_per_worker` runs, or when its resident memory after a run
has grown `memory_growth_mib` beyond what it was after its first run.
A worker that crashes or is killed (OOM,
SIGKILL) is replaced; the run it held is reported failed, its run
directory stays valid, and the next `compare` resumes it from its last
backed-up epoch. On a GPU host each worker slot has its own environment
(its GPU and share of its memory, `GpuSlots`); a worker that replaces
another takes over its slot.
"""

import collections
import contextlib
import multiprocessing
import os
import pathlib
import time
from multiprocessing.connection import wait

from kerastune_lab.engine.planned_run import (
    BUSY,
    COMPLETE,
    FAILED,
    SKIPPED,
    RunOutcome,
)
from kerastune_lab.engine.run_worker import worker_main
from kerastune_lab.run_directory import RunDirectory

# Measured with benchmarks/memory_growth.py (README, Benchmarks): a
# worker grows about 1 MiB a run on tiny GRU runs, and about 50 MiB a run
# on the default study's BERT (inside Keras's own fit: a plain fit of the
# same model grows alike), so a worker lives for at most ~10 BERT runs
# (the new worker's start costs ~5 s in a 60 s run).
MAX_RUNS_PER_WORKER = 200
MEMORY_GROWTH_MIB = 512


def default_jobs():
    """Two runs at once where there are two CPUs or more: small models
    leave cores idle in one process."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def worker_environment(jobs, cache_dir=None):
    """The start-up environment of each worker: with several at once, an
    equal share of the CPU threads each; with `cache_dir`, JAX's
    persistent compilation cache there, so the runs of a study compile
    each train step once (measured: a run's fixed cost in a worker falls
    from 6.6 s to 1.8 s on the default study's cell; TensorFlow's XLA
    cache saved nothing, benchmarks/run_cost.py --worker)."""
    env = {}
    if jobs > 1:
        threads = str(max(1, (os.cpu_count() or 1) // jobs))
        env.update(
            OMP_NUM_THREADS=threads,
            TF_NUM_INTRAOP_THREADS=threads,
            TF_NUM_INTEROP_THREADS="1",
        )
        env["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "")
            + " --xla_cpu_multi_thread_eigen=false "
            f"intra_op_parallelism_threads={threads}"
        ).strip()
    if cache_dir is not None:
        env.update(
            JAX_COMPILATION_CACHE_DIR=str(pathlib.Path(cache_dir) / "jax"),
            JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
            JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
        )
    return env


class _Worker:
    def __init__(self, context, environment, slot=0):
        self.slot = slot
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=worker_main,
            args=(child, environment),
            name="kerastune-lab-worker",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.runs = 0
        self.first_memory = None  # MiB after its first run
        self.planned = None
        self.started = 0.0

    def send(self, planned):
        self.planned = planned
        self.started = time.perf_counter()
        self.runs += 1
        self.connection.send(planned)

    def stop(self, timeout=10):
        with contextlib.suppress(OSError):
            self.connection.send(None)
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()


class LocalPool:
    """Trains planned runs in `jobs` long-lived worker processes.

    Args:
        jobs: Runs trained at once (one worker each).
        environment: Extra start-up environment of the workers (threads,
            compilation caches); see `worker_environment`.
        max_runs_per_worker: A worker is replaced after this many runs.
        memory_growth_mib: A worker whose resident memory after a run has
            grown by this many MiB or more since its first run is replaced
            (0: a new worker for every run).
        worker_environments: One more environment per worker slot (`jobs`
            of them; `GpuSlots.environments()`), or None.

    Example:

    >>> with LocalPool(jobs=2) as pool:
    ...     outcomes = pool.run([])
    >>> outcomes
    []
    """

    def __init__(
        self,
        jobs: int = 1,
        environment: dict | None = None,
        max_runs_per_worker: int = MAX_RUNS_PER_WORKER,
        memory_growth_mib: float = MEMORY_GROWTH_MIB,
        worker_environments: list | None = None,
    ):
        if not isinstance(jobs, int) or jobs < 1:
            raise ValueError(f"jobs must be an int >= 1. Received: {jobs!r}")
        if worker_environments is not None and len(worker_environments) != (
            jobs
        ):
            raise ValueError(
                f"worker_environments must hold one environment per job "
                f"({jobs}). Received: {len(worker_environments)}"
            )
        if max_runs_per_worker < 1 or memory_growth_mib < 0:
            raise ValueError(
                "max_runs_per_worker must be >= 1 and memory_growth_mib >= "
                f"0. Received: {max_runs_per_worker!r}, {memory_growth_mib!r}"
            )
        self.jobs = jobs
        self.environment = dict(environment or {})
        self.max_runs_per_worker = max_runs_per_worker
        self.memory_growth_mib = memory_growth_mib
        self.worker_environments = worker_environments or [{}] * jobs
        self._free_slots = list(range(jobs))
        # Spawned, not forked: a fork of a process that has loaded
        # TensorFlow or JAX is not safe, and a fresh interpreter is what a
        # `kerastune-lab run` process is.
        self._context = multiprocessing.get_context("spawn")
        self._idle = []
        self.workers_started = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Stops the idle workers."""
        while self._idle:
            self._stop(self._idle.pop())

    def _worker(self):
        if self._idle:
            return self._idle.pop()
        self.workers_started += 1
        # At most `jobs` workers live at once, so a slot is free.
        slot = min(self._free_slots)
        self._free_slots.remove(slot)
        environment = self.environment | self.worker_environments[slot]
        return _Worker(self._context, environment, slot)

    def _stop(self, worker, kill=False):
        if kill:
            worker.process.kill()
        worker.stop()
        self._free_slots.append(worker.slot)

    def run(self, planned_runs, on_outcome=None, stage=None):
        """Trains `planned_runs`, `jobs` at a time; returns their
        `RunOutcome`s in plan order.

        A complete run is skipped and a run locked by another process is
        left to it, so re-running a study resumes it. `on_outcome(outcome)`
        is called as each run ends (progress display). `stage` names the
        batch of runs for executors that keep records per batch (Ray); the
        pool needs none.
        """
        outcomes = {}

        def record(outcome):
            outcomes[outcome.planned.name] = outcome
            if on_outcome is not None:
                on_outcome(outcome)

        pending = collections.deque(planned_runs)
        busy = {}
        try:
            while pending or busy:
                while pending and len(busy) < self.jobs:
                    planned = pending.popleft()
                    run = RunDirectory(planned.run_dir)
                    if run.is_complete():
                        record(RunOutcome(planned, SKIPPED))
                    elif not run.claim():
                        record(RunOutcome(planned, BUSY))
                    else:
                        worker = self._worker()
                        worker.send(planned)
                        busy[worker.connection] = worker
                if busy:
                    for worker in self._finished(busy):
                        record(self._outcome(worker))
        finally:
            for worker in busy.values():  # interrupted: stop them all
                self._stop(worker, kill=True)
                RunDirectory(worker.planned.run_dir).release()
        return [outcomes[p.name] for p in planned_runs]

    def _finished(self, busy):
        """Waits until at least one busy worker replies or dies; removes
        and returns those."""
        ready = wait(list(busy) + [w.process.sentinel for w in busy.values()])
        done = []
        for connection, worker in list(busy.items()):
            if connection in ready or worker.process.sentinel in ready:
                del busy[connection]
                done.append(worker)
        return done

    def _outcome(self, worker):
        """The outcome of the worker's run; keeps the worker for the next
        run, or replaces it."""
        planned = worker.planned
        RunDirectory(planned.run_dir).release()
        try:
            report = worker.connection.recv()
        except (EOFError, OSError):
            self._stop(worker)
            return RunOutcome(
                planned,
                FAILED,
                time.perf_counter() - worker.started,
                message=(
                    f"its worker process died (exit code "
                    f"{worker.process.exitcode}); re-run the same command "
                    "to resume it from its last finished epoch"
                ),
            )
        complete = not report["error"] and planned.is_complete()
        if worker.first_memory is None:
            worker.first_memory = report["memory_mib"]
        if (
            complete
            and worker.runs < self.max_runs_per_worker
            and report["memory_mib"] - worker.first_memory
            < self.memory_growth_mib
        ):
            self._idle.append(worker)
        else:
            # A failed run may leave Keras in any state: start afresh.
            self._stop(worker)
        return RunOutcome(
            planned,
            COMPLETE if complete else FAILED,
            report["seconds"],
            report["memory_mib"],
            report["error"] or ("" if complete else "no metrics.json"),
        )
