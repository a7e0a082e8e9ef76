"""The weights file a transfer run starts its base from (no Keras)."""

import pathlib

from kerastune_lab.errors import UserError
from kerastune_lab.run_directory import RunDirectory


def weights_file(weights):
    """The file `model.weights` names: a .weights.h5 file, a .keras model,
    or a run directory (its model.keras).

    Raises:
        UserError: No such file, or not one of those kinds.
    """
    path = pathlib.Path(weights)
    if path.is_dir():
        path = RunDirectory(path).model
    if not path.is_file():
        raise UserError(
            f"weights {str(weights)!r}: no such file. Expected 'imagenet', "
            "'none', a .weights.h5 file of the base model, or a .keras "
            "model / run directory of an earlier transfer run."
        )
    if not path.name.endswith((".weights.h5", ".keras")):
        raise UserError(
            f"weights {str(weights)!r}: expected a .weights.h5 file (as "
            "written by base.save_weights) or a .keras model."
        )
    return path
