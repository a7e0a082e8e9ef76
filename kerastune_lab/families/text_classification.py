"""The text-classification task the text families share (gru,
transformer): labelled text as padded integer sequences."""

import dataclasses
import math

from kerastune_lab.families.model_family import DataKind, Knob


def _check_csv(data):
    from kerastune_lab.data.csv_texts import load_csv_texts

    load_csv_texts(data.path, data.text_column, data.label_column)


# The data.name values of labelled text.
TEXT_DATA = (
    DataKind("fortunes", "embedded: 4 BSD fortune collections"),
    DataKind(
        "csv", "labelled texts of a CSV file", "file.csv", check=_check_csv
    ),
    DataKind(
        "synthetic", "a synthetic sequence task with size and difficulty knobs"
    ),
)

# More data is a key only for the synthetic task (approach B:
# 3,000 -> 100,000 samples); for files the advice names no key.
MORE_DATA = Knob(
    "data.num_samples",
    "data",
    lambda n: n * 3,
    lambda n: None,
    "data (synthetic samples)",
    applies=lambda config: config["data"]["name"] == "synthetic",
)


def rate_up(rate, limit=0.95, step=0.2):
    """A dropout rate raised by `step`, or None at the limit."""
    return round(min(limit, rate + step), 2) if rate < limit else None


def rate_down(rate, step=0.1):
    return round(max(0.0, rate - step), 2) if rate > 0 else None


def prepare_text_classification(config, build_model):
    """Loads the data and builds `build_model(vocab_size, num_classes,
    sequence_length, **model params)`; returns a PreparedTask."""
    import numpy as np

    from kerastune_lab.data import load_text_classification
    from kerastune_lab.data.no_skill_loss import no_skill_loss
    from kerastune_lab.data.shuffled_batches import ShuffledBatches
    from kerastune_lab.families.prepared_task import PreparedTask
    from kerastune_lab.run_directory import RunDirectory

    train = config.train
    data = load_text_classification(config.data, train.seed)
    model = build_model(
        vocab_size=data.vocab_size,
        num_classes=data.num_classes,
        sequence_length=data.x_train.shape[1],
        **dataclasses.asdict(config.model.params),
    )
    counts = np.bincount(data.y_train, minlength=data.num_classes)
    return PreparedTask(
        model=model,
        fit_data={
            "x": ShuffledBatches(
                data.x_train, data.y_train, train.batch_size, train.seed
            ),
            "validation_data": (data.x_val, data.y_val),
            "validation_batch_size": train.batch_size,
            # The dataset shuffles by (seed, epoch) itself; Keras's
            # batch shuffling would draw from the global stream.
            "shuffle": False,
        },
        test_data={
            "x": data.x_test,
            "y": data.y_test,
            "batch_size": train.batch_size,
        },
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        weighted_metrics=[],
        steps_per_epoch=math.ceil(len(data.y_train) / train.batch_size),
        data_summary=data.summary(),
        reference={
            "majority_class_accuracy": float(
                np.mean(data.y_test == np.argmax(counts))
            )
        },
        no_skill_eval_loss=no_skill_loss(
            data.y_train, data.y_val, data.num_classes
        ),
        # Synthetic sequences are ids already: no text to read.
        export_files={RunDirectory.TEXT_VECTORIZER: data.vectorizer.save}
        if data.vectorizer
        else {},
    )
