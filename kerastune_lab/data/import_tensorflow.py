"""TensorFlow for the one data pipeline that needs it (image folders)."""

from kerastune_lab.errors import UserError
from kerastune_lab.load_backend_quietly import keep_tensorflow_off_gpus


def import_tensorflow(needed_for):
    """The `tensorflow` module, kept off the GPUs unless Keras trains on it.

    Image data runs in tf.data on the CPU whatever the Keras backend; beside
    JAX or torch, TensorFlow would otherwise claim GPU memory of its own.

    Args:
        needed_for: What needs it, for the error message (e.g. "Image data
            (data.name = 'images')").

    Raises:
        UserError: TensorFlow cannot be imported.
    """
    try:
        import tensorflow as tf
    except ImportError as error:
        raise UserError(
            f"{needed_for} is read with TensorFlow (tf.data), which cannot "
            f"be imported here ({error}). Install it beside your backend "
            "(pip install tensorflow-cpu, or tensorflow), or train on text "
            "data (fortunes, csv, pydoc, text), which needs no TensorFlow."
        ) from None
    keep_tensorflow_off_gpus()
    return tf
