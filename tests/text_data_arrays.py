"""Every array that the text data sets hand the model, by name: the
fortunes classifier's ids and labels, and the pydoc masked LM's
vocabulary, chunks and masks (validation, test, training epoch 0)."""

import numpy as np

from kerastune_lab.config import load_experiment
from kerastune_lab.data import load_text_classification
from kerastune_lab.data.masked_lm_data import load_masked_lm_data

# The masked LM on pydoc, small: the SD study's vocabulary size.
PYDOC_500 = [
    'model.name="bert_mlm"',
    "model.vocabulary_size=500",
    "data.max_chunks=50",
]


def text_data_arrays():
    arrays = {}
    fortunes = load_text_classification(load_experiment(None, []).data, 0)
    for split in ("train", "val", "test"):
        arrays[f"fortunes_x_{split}"] = getattr(fortunes, f"x_{split}")
        arrays[f"fortunes_y_{split}"] = getattr(fortunes, f"y_{split}")
    arrays["fortunes_vocabulary"] = np.asarray(fortunes.vectorizer.vocabulary)
    config = load_experiment(None, PYDOC_500)
    corpus = load_masked_lm_data(config.data, config.model.params, 8, seed=0)
    arrays["pydoc_vocabulary"] = np.asarray(corpus.tokenizer.get_vocabulary())
    for split in ("train", "val", "test"):
        data = getattr(corpus, split)
        arrays[f"pydoc_{split}_chunks"] = data.chunks
        for name, array in zip(("ids", "positions", "labels"), data.arrays):
            arrays[f"pydoc_{split}_{name}"] = array
    return arrays
