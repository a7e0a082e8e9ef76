"""Image-classification data as cached, prefetched tf.data pipelines.

Images come from a folder with one sub-folder per class (read by
`keras.utils.image_dataset_from_directory`) or from the embedded digits
set. They are decoded and resized once, cached in memory as uint8, split
by a seeded stratified split, and batched; training batches are shuffled
every epoch and optionally augmented. The base model's own
`preprocess_input` runs as a NumPy function, so the pipeline feeds any
Keras backend (tf.data itself stays here, in data loading, and off the
GPUs unless the backend is TensorFlow: see `import_tensorflow`).
"""

import dataclasses
import pathlib

import keras
import numpy as np

from kerastune_lab.data.digits import load_digits_images
from kerastune_lab.data.import_tensorflow import import_tensorflow
from kerastune_lab.data.splits import stratified_split
from kerastune_lab.errors import UserError

tf = import_tensorflow("Image data (data.name = 'digits' or 'images')")

SPLITS = ("train", "val", "test")


@dataclasses.dataclass
class ImageClassificationData:
    """Batched (image, label) datasets of each split and the class names."""

    train: object
    val: object
    test: object
    class_names: list
    counts: dict
    test_labels: np.ndarray
    train_labels: np.ndarray
    val_labels: np.ndarray

    @property
    def num_classes(self):
        return len(self.class_names)

    def summary(self):
        """Sizes and classes, for config.json and the console."""
        return {
            **self.counts,
            "classes": self.num_classes,
            "class_names": list(self.class_names),
        }


def load_image_classification(
    data_config, image_size, preprocess_input, batch_size, seed
):
    """Loads, splits and batches the images of `data_config`.

    Args:
        data_config: The `[data]` section (name "digits" or "images").
        image_size: Height and width after resizing.
        preprocess_input: The base model's preprocessing function.
        batch_size: Images per batch.
        seed: The run's seed (shuffling, augmentation); the split follows
            `data_config.data_seed(seed)`.
    """
    source, labels, class_names = _cached_images(data_config, image_size)
    parts = stratified_split(
        labels,
        data_config.val_split,
        data_config.test_split,
        data_config.data_seed(seed),
    )
    train, val, test = _select_splits(source, parts)
    augment = _augmentation(seed) if data_config.augment else []

    def finish(dataset, training):
        return _batched(
            dataset,
            batch_size,
            augment if training else [],
            lambda x: _preprocess(x, preprocess_input, image_size),
        )

    train = train.shuffle(
        len(parts[0]), seed=seed, reshuffle_each_iteration=True
    )
    labels = np.asarray(labels)
    return ImageClassificationData(
        train=finish(train, True),
        val=finish(val, False),
        test=finish(test, False),
        class_names=list(class_names),
        counts={name: len(rows) for name, rows in zip(SPLITS, parts)},
        test_labels=labels[parts[2]],
        train_labels=labels[parts[0]],
        val_labels=labels[parts[1]],
    )


def _cached_images(data_config, image_size):
    """(dataset of (uint8 image, label), labels, class names), resized and
    cached in memory."""
    if data_config.name == "digits":
        images, labels, class_names = load_digits_images()
        source = tf.data.Dataset.from_tensor_slices((images, labels)).map(
            lambda x, y: (tf.image.resize(x, (image_size, image_size)), y)
        )
    else:
        source, labels, class_names = _read_folder(
            data_config.path, image_size
        )
    # uint8 holds a quarter of float32's memory; the resize's sub-pixel
    # fractions are below what the base models resolve.
    source = source.map(
        lambda x, y: (
            tf.cast(tf.clip_by_value(tf.round(x), 0, 255), tf.uint8),
            y,
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    ).cache()
    return source, labels, class_names


def _select_splits(source, parts):
    """The datasets of the rows in each of `parts` (a partition of the
    source's rows, as `stratified_split` gives), in the source's order."""
    split_of = np.zeros(sum(len(rows) for rows in parts), np.int64)
    for index, rows in enumerate(parts):
        split_of[rows] = index
    split_of = tf.constant(split_of)

    def select(index):
        # Declaring the size lets Keras count the steps of an epoch (a
        # filtered dataset's size is otherwise unknown until it runs out).
        return (
            source.enumerate()
            .filter(lambda i, item: tf.gather(split_of, i) == index)
            .map(lambda i, item: item)
            .apply(tf.data.experimental.assert_cardinality(len(parts[index])))
        )

    return [select(i) for i in range(len(parts))]


def _batched(dataset, batch_size, augment, preprocess):
    """Batches, then the augmentation layers, then `preprocess` of the
    images; prefetched."""
    dataset = dataset.batch(batch_size)
    for layer in augment:
        dataset = dataset.map(
            lambda x, y, layer=layer: (layer(x), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    dataset = dataset.map(
        lambda x, y: (preprocess(x), y),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def _preprocess(images, preprocess_input, image_size):
    out = tf.numpy_function(
        lambda x: np.asarray(preprocess_input(x.astype("float32")), "float32"),
        [images],
        tf.float32,
        stateful=False,
    )
    out.set_shape((None, image_size, image_size, 3))
    return out


def _augmentation(seed):
    """The keras-io transfer-learning guide's flips and small rotations,
    plus a small zoom; Keras's preprocessing layers run in tf.data on
    every backend."""
    return [
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomRotation(0.1, seed=seed + 1),
        keras.layers.RandomZoom(0.1, seed=seed + 2),
    ]


def _read_folder(path, image_size):
    folder = pathlib.Path(path)
    if not folder.is_dir():
        raise UserError(
            f"data.path = {str(path)!r} is not a folder. Pass --data-dir "
            "DIR (data.path) with one sub-folder of images per class."
        )
    try:
        dataset = keras.utils.image_dataset_from_directory(
            folder,
            labels="inferred",
            label_mode="int",
            color_mode="rgb",
            image_size=(image_size, image_size),
            batch_size=None,
            shuffle=False,
            verbose=False,
        )
    except ValueError as error:
        raise UserError(
            f"{folder}: {error} Expected one sub-folder per class holding "
            ".jpg/.png/.bmp/.gif images."
        ) from None
    class_names = dataset.class_names
    if len(class_names) < 2:
        raise UserError(
            f"{folder} has {len(class_names)} class folder(s) "
            f"({', '.join(class_names) or 'none'}); a classifier needs at "
            "least two sub-folders, one per class."
        )
    index = {name: i for i, name in enumerate(class_names)}
    # Class folders may hold sub-folders: the class is the top one.
    labels = np.array(
        [
            index[pathlib.Path(p).relative_to(folder).parts[0]]
            for p in dataset.file_paths
        ],
        np.int64,
    )
    empty = [
        name for i, name in enumerate(class_names) if not np.any(labels == i)
    ]
    if empty:
        raise UserError(
            f"{folder}: class folder(s) {', '.join(empty)} hold no images. "
            "Remove them or point --data-dir (data.path) at the folder whose "
            "sub-folders are the classes."
        )
    return dataset, labels, class_names


def decode_image_file(path, image_size):
    """One image file as `image_dataset_from_directory` reads it: decoded
    to RGB and resized bilinearly (float32, 0-255)."""
    data = tf.io.read_file(str(path))
    image = tf.image.decode_image(data, channels=3, expand_animations=False)
    return tf.image.resize(image, (image_size, image_size)).numpy()
