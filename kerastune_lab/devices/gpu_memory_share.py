"""The share of a GPU's memory a process may use, set before its backend
starts.

By default a backend process takes most of a GPU: JAX preallocates 75% of
its memory and TensorFlow maps all of it, so a second process on the same
GPU cannot even create its cuBLAS or cuSolver handles. A process that
shares a GPU is given, before its backend starts:

- JAX: XLA_PYTHON_CLIENT_MEM_FRACTION, the fraction of the GPU's memory
  its allocator preallocates and never exceeds (read when JAX creates its
  GPU client, at the first operation). Preallocation stays on: a process
  that does not fit fails at its start, not hours into a run;
- TensorFlow: a logical device with that memory limit, or memory growth
  where the GPU's size is unknown (`apply_gpu_memory_share`, which must
  run before TensorFlow's first operation);
- torch: `torch.cuda.set_per_process_memory_fraction`.

The fraction is the process's share of the GPU less a reserve for what
lives outside the allocator (the CUDA context, the cuBLAS, cuDNN and
cuSolver handles and workspaces). A process alone on its GPU (a share of
1) keeps its backend's defaults, as `kerastune-lab run` does.
"""

import dataclasses
import os

from kerastune_lab.devices.visible_gpus import Gpu

# MiB each process needs outside its allocator. Not measured on its own:
# on an H200, 3 JAX processes at a fraction of 0.3 each (4.7 GiB each
# left outside) trained without error, while 75% each failed.
RESERVE_MIB = 2048
# Of a share whose GPU's size is unknown (a MIG instance).
RESERVE_RATIO = 0.1
FRACTION_VARIABLE = "KERASTUNE_LAB_GPU_MEMORY_FRACTION"
MEMORY_VARIABLE = "KERASTUNE_LAB_GPU_MEMORY_MIB"
# Messages of a GPU allocation that failed (XLA, TensorFlow, CUDA, torch),
# and the cuSolver error that JAX raises when no memory is left for the
# handle (seen with several processes at JAX's default fraction).
OUT_OF_MEMORY_MARKERS = (
    "resource_exhausted",
    "resource exhausted",
    "cuda_error_out_of_memory",
    "out of memory",
    "oom when allocating",
    "cusolver internal error",
)


@dataclasses.dataclass(frozen=True)
class GpuMemoryShare:
    """A process's share of one GPU, as the environment of that process.

    Args:
        gpu: The `Gpu`.
        share: Its part of the GPU, in (0, 1]: 1 / the processes that
            share it, or a Ray trial's `gpus_per_trial`.

    Example:

    >>> share = GpuMemoryShare(Gpu("1", "NVIDIA H200", 143771), 0.5)
    >>> share.fraction
    0.486
    >>> env = share.environment()
    >>> env["CUDA_VISIBLE_DEVICES"], env["XLA_PYTHON_CLIENT_MEM_FRACTION"]
    ('1', '0.486')
    """

    gpu: Gpu
    share: float

    def __post_init__(self):
        if not 0 < self.share <= 1:
            raise ValueError(
                f"share must be in (0, 1]. Received: share={self.share!r}"
            )

    @property
    def fraction(self) -> float:
        """The fraction of the GPU's memory its allocator may use: the
        share less the reserve (at most half of the share)."""
        if self.gpu.memory_mib:
            reserve = min(RESERVE_MIB / self.gpu.memory_mib, self.share / 2)
        else:
            reserve = self.share * RESERVE_RATIO
        return round(self.share - reserve, 3)

    def environment(self, pin=True) -> dict:
        """The variables of the process, set before its backend starts
        (none for memory at a share of 1); with `pin`,
        CUDA_VISIBLE_DEVICES shows it this GPU alone (Ray sets that
        variable itself)."""
        env = {}
        if self.share < 1:
            fraction = f"{self.fraction:.3f}"
            env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = fraction
            env[FRACTION_VARIABLE] = fraction
            if self.gpu.memory_mib:
                env[MEMORY_VARIABLE] = str(self.gpu.memory_mib)
        if pin:
            env["CUDA_VISIBLE_DEVICES"] = self.gpu.id
            if self.gpu.id.isdigit():
                # The id is nvidia-smi's index, which counts in PCI order.
                env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
        return env


def shared_fraction(environ=None):
    """The fraction of a GPU this process was given, or None."""
    environ = os.environ if environ is None else environ
    value = environ.get(FRACTION_VARIABLE)
    return float(value) if value else None


def apply_gpu_memory_share(environ=None):
    """Limits this process's backend to the GPU share in `environ` (default
    os.environ); call it after importing Keras and before the first
    operation. Returns what was set ({} without a share or a GPU)."""
    environ = os.environ if environ is None else environ
    fraction = shared_fraction(environ)
    if fraction is None:
        return {}
    import keras

    backend = keras.backend.backend()
    memory = environ.get(MEMORY_VARIABLE)
    if backend == "tensorflow":
        return _limit_tensorflow(fraction, int(memory) if memory else None)
    if backend == "torch":
        return _limit_torch(fraction)
    # JAX read XLA_PYTHON_CLIENT_MEM_FRACTION itself.
    return {"xla_python_client_mem_fraction": fraction}


def _limit_tensorflow(fraction, memory_mib):
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        if memory_mib:
            tf.config.set_logical_device_configuration(
                gpu,
                [
                    tf.config.LogicalDeviceConfiguration(
                        memory_limit=int(fraction * memory_mib)
                    )
                ],
            )
        else:
            tf.config.experimental.set_memory_growth(gpu, True)
    if not gpus:
        return {}
    if memory_mib:
        return {"tensorflow_memory_limit_mib": int(fraction * memory_mib)}
    return {"tensorflow_memory_growth": True}


def _limit_torch(fraction):
    import torch

    if not torch.cuda.is_available():
        return {}
    for index in range(torch.cuda.device_count()):
        torch.cuda.set_per_process_memory_fraction(fraction, index)
    return {"torch_memory_fraction": fraction}


def is_out_of_memory(text):
    """Whether an error's text says a GPU allocation failed."""
    text = text.lower()
    return any(marker in text for marker in OUT_OF_MEMORY_MARKERS)
