"""Top-k classes of new images from an image-classification run."""

import pathlib

import numpy as np

from kerastune_lab.errors import UserError
from kerastune_lab.families import FAMILIES
from kerastune_lab.run_directory import RunDirectory


def predict_images(run_dir, image_paths, top_k=3):
    """Classifies image files with the model of an image-classifier run.

    Each image is read, resized and preprocessed exactly as the run's
    training images were (same size, same base model's `preprocess_input`).

    Args:
        run_dir: A run directory with config.json and model.keras.
        image_paths: Image files (any format TensorFlow decodes: JPEG, PNG,
            BMP, GIF).
        top_k: Classes reported per image.

    Returns:
        A list with, per image, a list of (class name, probability), most
        probable first.
    """
    import keras

    from kerastune_lab.data.image_classification_data import (
        decode_image_file,
    )
    from kerastune_lab.models.base_models import BASE_MODELS

    run = RunDirectory(run_dir)
    if not run.is_run() or not run.model.is_file():
        raise UserError(
            f"{run_dir} is not a finished run directory (it needs "
            "config.json and model.keras). Pass the folder that "
            "finetuning.py or `kerastune-lab run` printed last."
        )
    record = run.read_record()
    model_config = record["config"]["model"]
    family = FAMILIES.get(model_config["name"])
    if family is None or not family.predicts_images:
        serves = [f.name for f in FAMILIES.values() if f.predicts_images]
        raise UserError(
            f"{run_dir} trained model.name = {model_config['name']!r}; "
            f"predict classifies images with a run of {serves}."
        )
    class_names = record["data"]["class_names"]
    size = model_config["image_size"]
    preprocess = BASE_MODELS[model_config["base_model"]].preprocess_input
    images = []
    for path in image_paths:
        if not pathlib.Path(path).is_file():
            raise UserError(f"Image {str(path)!r} does not exist.")
        try:
            images.append(decode_image_file(path, size))
        except Exception as error:
            raise UserError(
                f"Could not read {path} as an image ({type(error).__name__}"
                "). Pass JPEG, PNG, BMP or GIF files."
            ) from None
    model = keras.models.load_model(run.model, compile=False)
    batch = preprocess(np.stack(images).astype("float32"))
    probabilities = keras.ops.convert_to_numpy(model.predict(batch, verbose=0))
    k = min(top_k, len(class_names))
    results = []
    for row in probabilities:
        order = np.argsort(row)[::-1][:k]
        results.append([(class_names[i], float(row[i])) for i in order])
    return results
