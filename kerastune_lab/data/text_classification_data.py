"""Text-classification data as padded integer sequences, split and ready.

Text is tokenised by `TextVectorizer` (NumPy, the same ids on every
backend), fitted on the training split only; the model trains from NumPy
arrays on any backend.
"""

import dataclasses

import numpy as np

from kerastune_lab.data.csv_texts import load_csv_texts
from kerastune_lab.data.fortunes import load_fortunes
from kerastune_lab.data.splits import stratified_split
from kerastune_lab.data.synthetic_sequences import make_synthetic_sequences
from kerastune_lab.data.text_vectorizer import TextVectorizer


@dataclasses.dataclass
class TextClassificationData:
    """Integer sequences (0-padded, right) and labels of each split, and
    the `TextVectorizer` that made them (None for synthetic sequences)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    vocab_size: int
    vectorizer: TextVectorizer | None = None

    @property
    def num_classes(self):
        return len(self.class_names)

    def summary(self):
        """Sizes and class balance, for config.json and the console."""
        counts = np.bincount(self.y_train, minlength=self.num_classes)
        return {
            "train": len(self.y_train),
            "val": len(self.y_val),
            "test": len(self.y_test),
            "classes": list(self.class_names),
            "class_names": list(self.class_names),
            "vocab_size": int(self.vocab_size),
            "majority_class_fraction_test": float(
                np.mean(self.y_test == np.argmax(counts))
            )
            if len(self.y_test)
            else None,
        }


def load_text_classification(data_config, seed):
    """Loads, splits (stratified, seeded) and vectorises `[data]`."""
    seed = data_config.data_seed(seed)
    if data_config.name == "synthetic":
        vocab_size = min(data_config.max_tokens, 1000)
        x, y = make_synthetic_sequences(
            data_config.num_samples,
            difficulty=data_config.difficulty,
            num_classes=data_config.num_classes,
            vocab_size=vocab_size,
            sequence_length=data_config.sequence_length,
            seed=seed,
        )
        train, val, test = stratified_split(
            y, data_config.val_split, data_config.test_split, seed
        )
        class_names = [f"class_{i}" for i in range(data_config.num_classes)]
        return TextClassificationData(
            x[train],
            y[train],
            x[val],
            y[val],
            x[test],
            y[test],
            class_names,
            vocab_size,
        )
    if data_config.name == "csv":
        texts, labels, class_names = load_csv_texts(
            data_config.path, data_config.text_column, data_config.label_column
        )
    else:
        texts, labels, class_names = load_fortunes()
    labels = np.asarray(labels, dtype=np.int64)
    train, val, test = stratified_split(
        labels, data_config.val_split, data_config.test_split, seed
    )
    texts = np.asarray(texts, dtype=object)
    vectorizer = TextVectorizer.adapt(
        texts[train], data_config.max_tokens, data_config.sequence_length
    )
    return TextClassificationData(
        vectorizer(texts[train]),
        labels[train],
        vectorizer(texts[val]),
        labels[val],
        vectorizer(texts[test]),
        labels[test],
        class_names,
        vectorizer.vocabulary_size,
        vectorizer,
    )
