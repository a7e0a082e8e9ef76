"""Imports the Keras backend without TensorFlow's native start-up noise.

Shared by the command-line entry points and the comparison's worker
processes, which must import exactly what `kerastune-lab run` imports.
"""

import contextlib
import os
import sys


@contextlib.contextmanager
def native_stderr_silenced():
    """Sends file descriptor 2 to /dev/null for the duration.

    TensorFlow's C++ start-up lines (oneDNN, cudart_stub, cpu_feature_guard,
    "All log messages before absl::InitializeLog()") are written to fd 2
    while TensorFlow loads, before TF_CPP_MIN_LOG_LEVEL takes effect; no
    Python-level setting reaches them.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def load_backend_quietly():
    """Imports Keras and its backend (and keras-hub's TensorFlow text ops)
    without the native start-up noise; errors still surface afterwards."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_silenced():
        try:
            import keras

            if keras.backend.backend() == "tensorflow":
                import tensorflow  # noqa: F401
            import keras_hub  # noqa: F401
        except ImportError:
            pass  # the command's own import reports it, with a traceback
    keep_tensorflow_off_gpus()


def keep_tensorflow_off_gpus():
    """Hides the GPUs from TensorFlow when it is not the Keras backend.

    keras-hub imports TensorFlow wherever it is installed; beside JAX or
    torch, TensorFlow's first op (a tf.data pipeline, a TensorBoard
    writer) would otherwise map most of every GPU's memory, which the
    backend that trains then lacks. A no-op where TensorFlow is the
    backend or not imported.
    """
    tf = sys.modules.get("tensorflow")
    keras = sys.modules.get("keras")
    if tf is None or keras is None or keras.backend.backend() == "tensorflow":
        return
    # A RuntimeError: TensorFlow has placed its devices in this process
    # already, so they can no longer change.
    with contextlib.suppress(RuntimeError):
        tf.config.set_visible_devices([], "GPU")
