"""`[model] name = "transfer"`: the fine-tuned image classifier
(a keras.applications trunk with a new head; finetuning.py)."""

import dataclasses

from kerastune_lab.errors import ConfigError, UserError
from kerastune_lab.families.model_family import DataKind, Knob, ModelFamily
from kerastune_lab.fields import option
from kerastune_lab.models.base_models import BASE_MODELS


def _check_image_folder(data):
    from kerastune_lab.data.image_folder import check_image_folder

    check_image_folder(data.path)


IMAGE_DATA = (
    DataKind("digits", "embedded: scikit-learn's handwritten digits"),
    DataKind(
        "images",
        "a folder with one sub-folder of images per class",
        "photos/",
        check=_check_image_folder,
    ),
)


@dataclasses.dataclass
class TransferParams:
    """A keras.applications trunk with a new head (finetuning.py)."""

    base_model: str = option(
        "mobilenet_v2",
        choices=tuple(BASE_MODELS),
        doc="the keras.applications base the head is put on",
    )
    weights: str = option(
        "imagenet",
        doc="'imagenet' (Keras's cache or download), 'none' "
        "(random: the whole network trains), or a path: a "
        ".weights.h5 file of the base, or the model.keras / "
        "run directory of an earlier transfer run",
    )
    image_size: int = option(
        224, minimum=1, doc="input height and width in pixels"
    )
    head: list = option([512], doc="units of each hidden Dense layer")
    dropout: list = option(
        [0.25], doc="dropout after each hidden Dense (one rate: all)"
    )
    unfreeze: int = option(
        0,
        minimum=0,
        doc="train the base's last N layers (0: frozen); "
        "with train.head_epochs, the layers unfrozen in "
        "the second phase (0: the whole base)",
    )
    bn_momentum: float = option(
        0.0,
        minimum=0.0,
        maximum=1.0,
        doc="batch-norm momentum of the base; 0: 0.9 with weights = "
        "'none', else Keras's",
    )


def check(config):
    params = config.model.params
    if params.weights == "none" and params.unfreeze:
        raise ConfigError(
            f"model.unfreeze = {params.unfreeze} with model.weights = "
            "'none': a base trained from scratch trains all its layers; "
            "drop unfreeze, or load pretrained weights."
        )
    if config.train.head_epochs and params.weights == "none":
        raise ConfigError(
            "train.head_epochs needs a pretrained base (model.weights "
            "'imagenet' or a file); with weights = 'none' the whole "
            "network trains from the start."
        )


def check_files(config):
    """The weights file, where model.weights names one."""
    from kerastune_lab.models.weights_file import weights_file

    if config.model.params.weights not in ("imagenet", "none"):
        weights_file(config.model.params.weights)


def prepare(config):
    """A pretrained trunk on images; with train.head_epochs the trunk
    starts frozen and `fine_tune` unfreezes it for the second phase."""
    from kerastune_lab.data.image_classification_data import (
        load_image_classification,
    )
    from kerastune_lab.models.transfer_classifier import (
        BASE_LAYER_NAME,
        set_trainable_top,
    )

    train = config.train
    params = config.model.params
    data = load_image_classification(
        config.data,
        params.image_size,
        BASE_MODELS[params.base_model].preprocess_input,
        train.batch_size,
        train.seed,
    )
    two_phase = train.head_epochs > 0
    model = _classifier(params, data.num_classes, two_phase)

    def fine_tune(model):
        base = model.get_layer(BASE_LAYER_NAME)
        set_trainable_top(base, params.unfreeze or len(base.layers))

    return _prepared_task(
        model, data, train.batch_size, fine_tune if two_phase else None
    )


def _classifier(params, num_classes, two_phase):
    """The `[model]` section's classifier; a two-phase run starts with the
    base frozen."""
    from kerastune_lab.models.transfer_classifier import (
        build_transfer_classifier,
    )

    return build_transfer_classifier(
        num_classes=num_classes,
        base_model=params.base_model,
        weights=None if params.weights == "none" else params.weights,
        image_size=params.image_size,
        head=params.head,
        dropout=params.dropout,
        unfreeze=0 if two_phase else params.unfreeze,
        bn_momentum=params.bn_momentum or None,
    )


def _prepared_task(model, data, batch_size, fine_tune):
    """The `PreparedTask` of a classifier on `ImageClassificationData`."""
    import numpy as np

    from kerastune_lab.data.no_skill_loss import no_skill_loss
    from kerastune_lab.families.prepared_task import PreparedTask

    counts = np.bincount(data.train_labels, minlength=data.num_classes)
    return PreparedTask(
        model=model,
        # The dataset shuffles itself; Keras cannot shuffle a tf.data one.
        fit_data={
            "x": data.train,
            "validation_data": data.val,
            "shuffle": False,
        },
        test_data={"x": data.test},
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        weighted_metrics=[],
        steps_per_epoch=-(-data.counts["train"] // batch_size),
        data_summary=data.summary(),
        reference={
            "majority_class_accuracy": float(
                np.mean(data.test_labels == np.argmax(counts))
            )
        },
        no_skill_eval_loss=no_skill_loss(
            data.train_labels, data.val_labels, data.num_classes
        ),
        fine_tune=fine_tune,
    )


def read_images(params, paths):
    """The model's input batch for image files: decoded, resized and
    preprocessed as the run's training images were (same size, the same
    base model's `preprocess_input`)."""
    import pathlib

    import numpy as np

    from kerastune_lab.data.image_classification_data import (
        decode_image_file,
    )

    images = []
    for path in paths:
        if not pathlib.Path(path).is_file():
            raise UserError(f"Image {str(path)!r} does not exist.")
        try:
            images.append(decode_image_file(path, params.image_size))
        except Exception as error:
            raise UserError(
                f"Could not read {path} as an image ({type(error).__name__}"
                "). Pass JPEG, PNG, BMP or GIF files."
            ) from None
    preprocess = BASE_MODELS[params.base_model].preprocess_input
    return preprocess(np.stack(images).astype("float32"))


KNOBS = (
    Knob(
        "model.dropout",
        "regularisation",
        lambda rates: (
            [round(min(0.9, r + 0.2), 2) for r in rates]
            if min(rates) < 0.9
            else None
        ),
        lambda rates: (
            [round(max(0.0, r - 0.1), 2) for r in rates]
            if max(rates) > 0
            else None
        ),
        "dropout of the head (regularisation)",
    ),
    Knob(
        "data.augment",
        "regularisation",
        lambda on: None if on else True,
        lambda on: False if on else None,
        "random flips, rotations and zooms of the training images",
    ),
    # Capacity of a pretrained trunk: how many of its layers train.
    Knob(
        "model.unfreeze",
        "capacity",
        lambda n: n * 2 if n else 20,
        lambda n: n // 2 if n else None,
        "trunk layers trained (capacity)",
        applies=lambda config: config["model"]["weights"] != "none",
    ),
)

FAMILY = ModelFamily(
    name="transfer",
    knobs=KNOBS,
    params=TransferParams,
    data_kinds=IMAGE_DATA,
    prepare=prepare,
    check=check,
    check_files=check_files,
    two_phase=True,
    read_inputs=read_images,
    # Seed 004: model.fit(x, y, epochs=10), no early stopping; its
    # optimizers are Keras's defaults ('RMSprop', SGD()): momentum 0.
    train_defaults={
        "epochs": 10,
        "batch_size": 32,
        "early_stopping": False,
        "momentum": 0.0,
    },
)
