"""Top-k classes of new input files from a classifier run."""

import numpy as np

from kerastune_lab.errors import UserError
from kerastune_lab.families import FAMILIES
from kerastune_lab.run_directory import RunDirectory


def predict_files(run_dir, paths, top_k=3):
    """Classifies input files with the model of a classifier run.

    The run's model family reads the files exactly as its training read
    its data (`ModelFamily.read_inputs`: for the transfer family, images
    decoded, resized and preprocessed by the run's base model).

    Args:
        run_dir: A run directory with config.json and model.keras.
        paths: Input files of the kind the run's family learns from.
        top_k: Classes reported per file.

    Returns:
        A list with, per file, a list of (class name, probability), most
        probable first.
    """
    import keras

    run = RunDirectory(run_dir)
    if not run.is_run() or not run.model.is_file():
        raise UserError(
            f"{run_dir} is not a finished run directory (it needs "
            "config.json and model.keras). Pass the folder that "
            "finetuning.py or `kerastune-lab run` printed last."
        )
    record = run.read_record()
    model_config = dict(record["config"]["model"])
    name = model_config.pop("name")
    family = FAMILIES.get(name)
    if family is None or family.read_inputs is None:
        serves = [f.name for f in FAMILIES.values() if f.read_inputs]
        raise UserError(
            f"{run_dir} trained model.name = {name!r}; predict classifies "
            f"files with a run of {serves}."
        )
    batch = family.read_inputs(family.params(**model_config), paths)
    class_names = record["data"]["class_names"]
    model = keras.models.load_model(run.model, compile=False)
    probabilities = keras.ops.convert_to_numpy(model.predict(batch, verbose=0))
    k = min(top_k, len(class_names))
    results = []
    for row in probabilities:
        order = np.argsort(row)[::-1][:k]
        results.append([(class_names[i], float(row[i])) for i in order])
    return results
