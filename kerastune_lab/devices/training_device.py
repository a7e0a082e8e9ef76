"""The device a run trains on, as config.json records it."""

import os

from kerastune_lab.devices.gpu_memory_share import shared_fraction
from kerastune_lab.devices.visible_gpus import visible_gpus

CPU_FALLBACK = (
    "{count} NVIDIA GPU(s) visible ({name}), but the {backend} backend "
    "found none: this run trained on the CPU. Install the backend's CUDA "
    "build (JAX: pip install 'jax[cuda12]'; TensorFlow: pip install "
    "'tensorflow[and-cuda]') to train on the GPU."
)


def _backend_device(backend):
    """(platform, index in this process, name) of the device Keras places
    its work on by default."""
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return device.platform, device.id, device.device_kind
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus and tf.config.list_logical_devices("GPU"):
            details = tf.config.experimental.get_device_details(gpus[0])
            return "gpu", 0, details.get("device_name", "")
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            index = torch.cuda.current_device()
            return "gpu", index, torch.cuda.get_device_name(index)
    return "cpu", 0, ""


def training_device(environ=None):
    """What config.json says about the device this process trains on.

    Returns:
        {"device": "gpu:ID NAME" or "cpu" (or "tpu:ID NAME")}, where ID is
        the GPU's id on the host (its CUDA_VISIBLE_DEVICES entry); with
        "cuda_visible_devices" and "gpu_memory_fraction" when they were
        set for this process, and "device_note" when the host has NVIDIA
        GPUs but the backend trains on the CPU.
    """
    import keras

    environ = os.environ if environ is None else environ
    backend = keras.backend.backend()
    platform, index, name = _backend_device(backend)
    record = {}
    if platform == "cpu":
        record["device"] = "cpu"
        gpus = visible_gpus(environ)
        if gpus:
            record["device_note"] = CPU_FALLBACK.format(
                count=len(gpus), name=gpus[0].name, backend=backend
            )
    else:
        selection = environ.get("CUDA_VISIBLE_DEVICES", "").split(",")
        host_id = ""
        if platform == "gpu" and index < len(selection):
            host_id = selection[index].strip()
        record["device"] = f"{platform}:{host_id or index} {name}"
    if "CUDA_VISIBLE_DEVICES" in environ:
        record["cuda_visible_devices"] = environ["CUDA_VISIBLE_DEVICES"]
    fraction = shared_fraction(environ)
    if fraction is not None:
        record["gpu_memory_fraction"] = fraction
    return record
