"""A folder of images with one sub-folder per class, checked without
TensorFlow (so `check`, `run` and `compare` refuse a bad one before they
load a backend or make a folder)."""

import os
import pathlib

from kerastune_lab.errors import UserError

# The files keras.utils.image_dataset_from_directory reads.
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def _holds_images(folder):
    return any(
        name.lower().endswith(IMAGE_SUFFIXES)
        for _, _, names in os.walk(folder)
        for name in names
    )


def check_image_folder(path):
    """The class names of an image folder, as Keras will infer them.

    Args:
        path: A folder whose sub-folders are the classes, each holding
            images (at any depth below it).

    Returns:
        The sorted sub-folder names.

    Raises:
        UserError: The folder is missing, has fewer than two class
            folders, or a class folder holds no image.

    Example:

    >>> import tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("cat", "dog"):
    ...     (root / name).mkdir()
    ...     (root / name / "1.png").touch()
    >>> check_image_folder(root)
    ['cat', 'dog']
    """
    folder = pathlib.Path(path)
    if not folder.is_dir():
        raise UserError(
            f"data.path = {str(path)!r} is not a folder. Pass --data-dir "
            "DIR (data.path) with one sub-folder of images per class."
        )
    classes = sorted(
        p.name
        for p in folder.iterdir()
        if p.is_dir() and not p.name.startswith(".")
    )
    if len(classes) < 2:
        raise UserError(
            f"{folder} has {len(classes)} class folder(s) "
            f"({', '.join(classes) or 'none'}); a classifier needs at "
            "least two sub-folders, one per class."
        )
    empty = [name for name in classes if not _holds_images(folder / name)]
    if empty:
        raise UserError(
            f"{folder}: class folder(s) {', '.join(empty)} hold no images "
            f"({', '.join(IMAGE_SUFFIXES)}). Remove them or point "
            "--data-dir (data.path) at the folder whose sub-folders are the "
            "classes."
        )
    return classes
