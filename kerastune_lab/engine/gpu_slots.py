"""How the local engine's workers share the GPUs of this host."""

import dataclasses
import math

from kerastune_lab.devices.gpu_memory_share import GpuMemoryShare
from kerastune_lab.errors import UserError

# Runs trained at once on each GPU when --runs-per-gpu is not given. Not
# measured yet (benchmarks/gpu_study.sh measures 1, 2, 4 and 8): 2 is the
# cautious choice. Small models leave a GPU mostly idle, so one run per
# GPU wastes it (on an H200, 3 GRU runs at once took 38 s against 46 s
# one at a time), while each run keeps half of the GPU's memory.
DEFAULT_RUNS_PER_GPU = 2


@dataclasses.dataclass(frozen=True)
class GpuSlots:
    """The local pool's worker slots on a GPU host: slot i trains on GPU
    i mod len(gpus) (round-robin), with 1/runs_per_gpu of its memory (a
    worker alone on its GPU keeps its backend's defaults).

    Args:
        gpus: The `Gpu`s the workers may use (`visible_gpus()`).
        jobs: Workers, i.e. runs trained at once.
        runs_per_gpu: Workers that share one GPU at most.

    Example:

    >>> from kerastune_lab.devices.visible_gpus import Gpu
    >>> gpus = (Gpu("0", "NVIDIA H200", 143771), Gpu("1", "NVIDIA H200",
    ...                                                143771))
    >>> slots = GpuSlots.plan(gpus)
    >>> slots.jobs, [env["CUDA_VISIBLE_DEVICES"] for env in
    ...              slots.environments()]
    (4, ['0', '1', '0', '1'])
    """

    gpus: tuple
    jobs: int
    runs_per_gpu: int

    @classmethod
    def plan(cls, gpus, jobs=None, runs_per_gpu=None):
        """The slots for `--jobs` and `--runs-per-gpu` (None where not
        given): jobs defaults to GPUs x runs per GPU, and runs per GPU to
        what --jobs puts on a GPU, else `DEFAULT_RUNS_PER_GPU`; UserError
        where --jobs needs more runs on a GPU than --runs-per-gpu."""
        gpus = tuple(gpus)
        if not gpus:
            raise ValueError("GpuSlots needs at least one GPU.")
        busiest = math.ceil(jobs / len(gpus)) if jobs else None
        if runs_per_gpu is None:
            runs_per_gpu = busiest or DEFAULT_RUNS_PER_GPU
        elif busiest and busiest > runs_per_gpu:
            raise UserError(
                f"--jobs {jobs} puts {busiest} runs on a GPU (this host "
                f"has {len(gpus)}), but --runs-per-gpu is {runs_per_gpu}. "
                "Raise --runs-per-gpu or lower --jobs (or leave --jobs "
                "out: it defaults to GPUs x --runs-per-gpu)."
            )
        return cls(gpus, jobs or len(gpus) * runs_per_gpu, runs_per_gpu)

    def share(self, slot):
        """The `GpuMemoryShare` of worker slot `slot`."""
        gpu = self.gpus[slot % len(self.gpus)]
        return GpuMemoryShare(gpu, 1 / self.runs_per_gpu)

    def environments(self):
        """The start-up environment of each worker slot, in slot order."""
        return [self.share(slot).environment() for slot in range(self.jobs)]

    def describe(self):
        """One line for the user: what each worker gets."""
        names = sorted({gpu.name for gpu in self.gpus})
        memory = (
            f"{self.share(0).fraction:.1%} of its memory"
            if self.runs_per_gpu > 1
            else "its backend's default use of its memory"
        )
        return (
            f"GPUs: {len(self.gpus)} ({', '.join(names)}); {self.jobs} "
            f"run(s) at once, up to {self.runs_per_gpu} per GPU, each "
            f"pinned to one GPU with {memory} (--runs-per-gpu)"
        )
