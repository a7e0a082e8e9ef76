"""The transfer-learning image classifier of finetuning.py.

base -> GlobalAveragePooling2D -> [Dense relu -> Dropout] x n -> softmax.
The defaults are the fine-tuning guide's: an ImageNet MobileNetV2
without its top, frozen, then Dense 512 relu, Dropout 0.25 and a softmax
layer named "classification"; `head=(1024, 512), dropout=(0.5, 0.25)` is
the seed's deeper head. Inputs are images already passed through the
base's `preprocess_input` (`BASE_MODELS[base_model].preprocess_input`).

The batch normalization layers of a pretrained base stay in inference
mode (their moving statistics never change), also among the layers
`unfreeze` makes trainable, as the keras-io transfer-learning guide
recommends (see `set_trainable_top`). With `weights=None` the whole
network trains, batch normalization included.

The result is an ordinary functional model: the trunk is the layer named
"base", the pooled features are the output of the layer named "pooling";
build a new head on `model.get_layer("pooling").output`.
"""

import keras

from kerastune_lab.errors import UserError
from kerastune_lab.models.base_models import BASE_MODELS
from kerastune_lab.models.weights_file import weights_file

BASE_LAYER_NAME = "base"
POOLING_LAYER_NAME = "pooling"
OUTPUT_LAYER_NAME = "classification"
# With Keras's default (0.99) the moving statistics of a network trained
# from scratch on a small set lag far behind its weights: MobileNetV2 on
# sklearn's digits at 32 px stayed at chance for 10 epochs; 0.9 reached
# 0.82 test accuracy.
SCRATCH_BN_MOMENTUM = 0.9


def build_transfer_classifier(
    num_classes,
    base_model="mobilenet_v2",
    weights="imagenet",
    image_size=224,
    head=(512,),
    dropout=(0.25,),
    unfreeze=0,
    bn_momentum=None,
):
    """The classifier of this module's docstring: a base, pooling, a head.

    Args:
        num_classes: Output classes.
        base_model: A key of `BASE_MODELS`.
        weights: "imagenet" (Keras's download, or its cache in
            ~/.keras/models), None (random; the whole network trains), or
            a path: a `.weights.h5` file of the base, or a `.keras` model
            or run directory of an earlier transfer run whose base is
            taken.
        image_size: Height and width of the input images in pixels.
        head: Units of each hidden Dense layer.
        dropout: Dropout rate after each hidden Dense layer; one rate
            applies to every layer.
        unfreeze: Make the base's last `unfreeze` layers trainable (0: the
            base stays frozen). Ignored with `weights=None`.
        bn_momentum: Momentum of the base's batch normalization; default
            `SCRATCH_BN_MOMENTUM` with `weights=None`, else Keras's.

    Returns:
        An uncompiled `keras.Model`.

    Example:

    >>> model = build_transfer_classifier(
    ...     10, weights=None, image_size=32, head=(1024, 512),
    ...     dropout=(0.5, 0.25))
    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    """
    head, dropout = _checked_head(head, dropout)
    base = load_base(base_model, weights, image_size)
    _set_up_base(base, weights is not None, bn_momentum, unfreeze)
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = base(inputs)
    x = keras.layers.GlobalAveragePooling2D(name=POOLING_LAYER_NAME)(x)
    for units, rate in zip(head, dropout):
        x = keras.layers.Dense(units, activation="relu")(x)
        x = keras.layers.Dropout(rate)(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", name=OUTPUT_LAYER_NAME
    )(x)
    return keras.Model(inputs, outputs, name=f"transfer_{base_model}")


def _checked_head(head, dropout):
    """(head, dropout) as tuples of equal length (one rate repeated), or
    UserError naming what is wrong."""
    head = tuple(head)
    dropout = tuple(dropout)
    if len(dropout) == 1:
        dropout = dropout * len(head)
    if len(dropout) != len(head):
        raise UserError(
            f"dropout {list(dropout)} has {len(dropout)} rates for a head of "
            f"{len(head)} Dense layers {list(head)}: give one rate, or one "
            "per layer."
        )
    if any(not 0 <= rate < 1 for rate in dropout):
        raise UserError(
            f"dropout {list(dropout)}: every rate must be in [0, 1)."
        )
    if any(not isinstance(units, int) or units < 1 for units in head):
        raise UserError(
            f"head {list(head)}: expected positive integers "
            "(units of each Dense layer), e.g. 1024,512."
        )
    return head, dropout


def _set_up_base(base, pretrained, bn_momentum, unfreeze):
    """Sets the base's batch-norm momentum and, when pretrained, which of
    its layers train."""
    momentum = bn_momentum or (None if pretrained else SCRATCH_BN_MOMENTUM)
    if momentum:
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = momentum
    if pretrained:
        set_trainable_top(base, unfreeze)


def set_trainable_top(base, count):
    """Seed 004's loop: the last `count` layers of `base` train, the rest
    are frozen (`count=0` freezes all of them). Recompile afterwards.

    Batch normalization layers stay frozen wherever they are: a frozen
    BatchNormalization runs in inference mode in Keras 3, keeping the
    pretrained moving statistics. Calling the base with `training=False`
    would not do it: `fit` passes training=True down through the nested
    model regardless (keras-team/keras#20285).
    """
    base.trainable = True
    for layer in base.layers:
        layer.trainable = False
    for layer in base.layers[len(base.layers) - count :] if count else ():
        if not isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = True


def load_base(base_model, weights, image_size):
    """The `include_top=False` trunk named "base", with its weights."""
    if base_model not in BASE_MODELS:
        raise UserError(
            f"base model {base_model!r}: expected one of "
            f"{', '.join(BASE_MODELS)}."
        )
    spec = BASE_MODELS[base_model]
    if image_size < spec.min_size:
        raise UserError(
            f"image size {image_size} px is below {base_model}'s minimum "
            f"input of {spec.min_size}x{spec.min_size} px: use --image-size "
            f"{spec.min_size} or more (model.image_size)."
        )
    path = None
    if weights not in (None, "imagenet"):
        path = weights_file(weights)
    shape = (image_size, image_size, 3)
    try:
        base = spec.constructor(
            include_top=False,
            input_shape=shape,
            name=BASE_LAYER_NAME,
            weights="imagenet" if weights == "imagenet" else None,
        )
    except Exception as error:
        if weights == "imagenet" and "URL fetch failure" in str(error):
            raise UserError(
                f"The ImageNet weights of {base_model} are not in Keras's "
                "cache (~/.keras/models) and cannot be downloaded here "
                f"({error}). Train from scratch with --weights none "
                '(model.weights = "none"), pass a weights file or earlier '
                "run directory with --weights PATH, or run once where the "
                "download works to fill the cache."
            ) from None
        raise
    if path is not None:
        _load_base_weights(base, path, base_model)
    return base


def _load_base_weights(base, path, base_model):
    try:
        if path.name.endswith(".keras"):
            source = keras.models.load_model(path, compile=False)
            try:
                source = source.get_layer(BASE_LAYER_NAME)
            except ValueError:
                raise UserError(
                    f"{path} has no layer named {BASE_LAYER_NAME!r}: pass "
                    "the model.keras of a transfer run, or a .weights.h5 "
                    "file of the base."
                ) from None
            base.set_weights(source.get_weights())
        else:
            base.load_weights(path)
    except UserError:
        raise
    except Exception as error:
        raise UserError(
            f"Could not load {path} into a {base_model} base: {error}. The "
            "file must hold the weights of the same base model (without its "
            "top)."
        ) from None
