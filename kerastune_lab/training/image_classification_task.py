"""The transfer-learning task of seed 004: a pretrained trunk on images."""

import numpy as np

from kerastune_lab.analysis.no_skill_loss import no_skill_loss
from kerastune_lab.data.image_classification_data import (
    load_image_classification,
)
from kerastune_lab.models.transfer_classifier import (
    BASE_LAYER_NAME,
    BASE_MODELS,
    build_transfer_classifier,
    set_trainable_top,
)
from kerastune_lab.training.prepared_task import PreparedTask


def prepare_image_classification(config):
    train = config.train
    params = config.model.params
    data = load_image_classification(
        config.data, params["image_size"],
        BASE_MODELS[params["base_model"]].preprocess_input,
        train.batch_size, train.seed)
    weights = None if params["weights"] == "none" else params["weights"]
    two_phase = train.head_epochs > 0
    model = build_transfer_classifier(
        num_classes=data.num_classes,
        base_model=params["base_model"],
        weights=weights,
        image_size=params["image_size"],
        head=params["head"],
        dropout=params["dropout"],
        # A two-phase run starts with the base frozen.
        unfreeze=0 if two_phase else params["unfreeze"],
        bn_momentum=params["bn_momentum"] or None,
    )

    def fine_tune(model):
        base = model.get_layer(BASE_LAYER_NAME)
        set_trainable_top(base, params["unfreeze"] or len(base.layers))

    counts = np.bincount(data.train_labels, minlength=data.num_classes)
    return PreparedTask(
        model=model,
        # The dataset shuffles itself; Keras cannot shuffle a tf.data one.
        fit_data={"x": data.train, "validation_data": data.val,
                  "shuffle": False},
        test_data={"x": data.test},
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        weighted_metrics=[],
        steps_per_epoch=-(-data.counts["train"] // train.batch_size),
        data_summary=data.summary(),
        reference={"majority_class_accuracy": float(
            np.mean(data.test_labels == np.argmax(counts)))},
        no_skill_eval_loss=no_skill_loss(data.train_labels, data.val_labels,
                                         data.num_classes),
        fine_tune=fine_tune if two_phase else None,
    )
