"""The NVIDIA GPUs this process may use, found without starting a backend.

A backend's own device query (`jax.devices()`, TensorFlow's device list)
would create a CUDA context in the calling process and, with JAX's
defaults, reserve most of a GPU's memory: the process that plans a study
must leave the GPUs to its workers. So `nvidia-smi` is asked, in a
subprocess with a short timeout, and CUDA_VISIBLE_DEVICES is applied to
its list as CUDA applies it.
"""

import csv
import dataclasses
import os
import subprocess

NVIDIA_SMI = "nvidia-smi"
# nvidia-smi answers in well under a second; a driver that hangs must not
# hang `compare`.
NVIDIA_SMI_TIMEOUT_S = 10
_QUERY = "--query-gpu=index,uuid,name,memory.total"


@dataclasses.dataclass(frozen=True)
class Gpu:
    """One GPU this process may use.

    Attributes:
        id: What selects it in CUDA_VISIBLE_DEVICES: its index in
            nvidia-smi's order (PCI bus order), or a MIG instance's UUID.
        name: The product name ("NVIDIA H200").
        memory_mib: Its total memory in MiB (None where unknown: a MIG
            instance).
        uuid: Its UUID ("GPU-...").
    """

    id: str
    name: str
    memory_mib: int | None = None
    uuid: str = ""

    @property
    def label(self) -> str:
        return f"gpu:{self.id} {self.name}"


def _match(listed, entry):
    """The GPU a CUDA_VISIBLE_DEVICES entry names, or None."""
    if entry.startswith("MIG-"):
        # nvidia-smi's GPU query lists the parent GPUs only.
        return Gpu(entry, "MIG instance", None, entry)
    if entry.startswith("GPU-"):
        # CUDA accepts any unambiguous prefix of a UUID.
        found = [gpu for gpu in listed if gpu.uuid.startswith(entry)]
        return found[0] if len(found) == 1 else None
    found = [gpu for gpu in listed if gpu.id == entry]
    return found[0] if found else None


def select_visible(listed, selection):
    """The GPUs of `listed` that CUDA_VISIBLE_DEVICES=`selection` leaves
    visible, in its order.

    None keeps them all; CUDA stops at the first entry that names no GPU,
    so "" and "-1" hide them all, and "1,7,0" on a 2-GPU host keeps GPU 1
    only.

    Example:

    >>> listed = [Gpu("0", "NVIDIA H200", 143771, "GPU-aa11"),
    ...           Gpu("1", "NVIDIA H200", 143771, "GPU-bb22")]
    >>> [gpu.id for gpu in select_visible(listed, "GPU-bb,0")]
    ['1', '0']
    >>> select_visible(listed, "-1")
    []
    """
    if selection is None:
        return list(listed)
    chosen = []
    for entry in selection.split(","):
        gpu = _match(listed, entry.strip())
        if gpu is None or gpu in chosen:
            break
        chosen.append(gpu)
    return chosen


def _parse(text):
    gpus = []
    for row in csv.reader(text.splitlines(), skipinitialspace=True):
        if len(row) != 4:
            continue
        index, uuid, name, memory = (field.strip() for field in row)
        gpus.append(
            Gpu(index, name, int(memory) if memory.isdigit() else None, uuid)
        )
    return gpus


def listed_gpus():
    """Every GPU nvidia-smi lists; [] where there is no nvidia-smi, or it
    fails or hangs (no usable driver: the backends would find no GPU
    either)."""
    try:
        result = subprocess.run(
            [NVIDIA_SMI, _QUERY, "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return _parse(result.stdout) if result.returncode == 0 else []


def visible_gpus(environ=None):
    """The GPUs a process started with `environ` (default: this process's
    environment) may use, as `Gpu`s in CUDA's order.

    An index in CUDA_VISIBLE_DEVICES is read in nvidia-smi's (PCI bus)
    order, which is CUDA's order too under CUDA_DEVICE_ORDER=PCI_BUS_ID
    and on hosts of identical GPUs.
    """
    environ = os.environ if environ is None else environ
    selection = environ.get("CUDA_VISIBLE_DEVICES")
    if selection is not None and selection.strip() in ("", "-1"):
        return []  # hidden on purpose: no need to ask the driver
    return select_visible(listed_gpus(), selection)
