"""A classifier run's model with what reads its inputs."""

import numpy as np


class RunClassifier:
    """Classifies raw inputs (texts, or image files) with a trained model.

    `load_predictor(run_dir)` builds one from a run directory; the inputs
    are read exactly as training read its data (the run's saved text
    vectorizer, or its family's image reader).

    Args:
        model: The run's `keras.Model` (model.keras), softmax outputs.
        class_names: Names of the model's outputs, in order.
        read_inputs: `inputs -> batch`: a list of raw inputs as the model's
            input array.
        reads: What the inputs are: "text" or "files".

    Example:

    >>> import keras
    >>> from kerastune_lab.data.text_vectorizer import TextVectorizer
    >>> vectorizer = TextVectorizer(["", "[UNK]", "no", "yes"], 1)
    >>> model = keras.Sequential([
    ...     keras.Input((1,), dtype="int32"), keras.layers.Embedding(4, 2),
    ...     keras.layers.Flatten(), keras.layers.Softmax()])
    >>> model.layers[0].set_weights(
    ...     [np.array([[0, 0], [0, 0], [5, 0], [0, 5]], "float32")])
    >>> classifier = RunClassifier(model, ["neg", "pos"], vectorizer, "text")
    >>> classifier.predict(["Yes!", "no...", "?!"])
    ['pos', 'neg', None]
    >>> classifier.predict_proba(["maybe"]).round(3).tolist()
    [[0.5, 0.5]]
    """

    def __init__(self, model, class_names, read_inputs, reads):
        if reads not in ("text", "files"):
            raise ValueError(
                f'reads must be "text" or "files". Received: {reads!r}'
            )
        self.model = model
        self.class_names = list(class_names)
        self.read_inputs = read_inputs
        self.reads = reads

    def predict_proba(self, inputs):
        """float [len(inputs), classes]: each class's probability (NaN
        for a text without a single token, which gives the model nothing
        to read: for a Transformer, its mean over tokens is 0 / 0)."""
        import keras

        batch = self.read_inputs(list(inputs))
        probabilities = np.asarray(
            keras.ops.convert_to_numpy(self.model.predict(batch, verbose=0)),
            dtype=np.float64,
        )
        if self.reads == "text":
            probabilities[~np.any(batch, axis=1)] = np.nan
        return probabilities

    def predict(self, inputs):
        """The most probable class name of each input (None for a text
        without a token)."""
        probabilities = self.predict_proba(inputs)
        return [
            self.class_names[int(np.argmax(row))]
            if np.isfinite(row).all()
            else None
            for row in probabilities
        ]

    def top_classes(self, probabilities, k=None):
        """Per row of `predict_proba`'s output, the k most probable
        (class name, probability) pairs, most probable first (all
        classes when k is None; none for a NaN row)."""
        k = len(self.class_names) if k is None else k
        return [
            [(self.class_names[i], float(row[i])) for i in order[:k]]
            if np.isfinite(row).all()
            else []
            for row, order in zip(
                probabilities,
                np.argsort(-probabilities, axis=1, kind="stable"),
            )
        ]
