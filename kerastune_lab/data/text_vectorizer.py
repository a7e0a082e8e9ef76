"""Text to padded token ids in NumPy: the same ids on every backend."""

import collections
import json
import re
import string

import numpy as np

PAD_ID = 0
OOV_ID = 1
RESERVED = ("", "[UNK]")

# Keras's TextVectorization("lower_and_strip_punctuation") lowercases with
# tf.strings.lower, which changes ASCII letters only, strips ASCII
# punctuation, and splits on ASCII whitespace; the same rules here keep
# the ids that runs got from it.
_STANDARDIZE = str.maketrans(
    string.ascii_uppercase, string.ascii_lowercase, string.punctuation
)
_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")


def text_tokens(text):
    """`text` lowercased (ASCII letters), without ASCII punctuation, split
    on whitespace.

    >>> text_tokens("Don't PANIC!  Café\\tNo. 42")
    ['dont', 'panic', 'café', 'no', '42']
    """
    text = text.translate(_STANDARDIZE).strip(" \t\n\v\f\r")
    return _WHITESPACE.split(text) if text else []


class TextVectorizer:
    """Maps texts to fixed-length rows of token ids, in NumPy.

    Keeps Keras's `TextVectorization` defaults (`text_tokens`: ASCII
    lowercasing, ASCII punctuation stripped, whitespace split), id 0 for
    padding (on the right) and 1 for a token outside the vocabulary;
    longer texts keep their first `sequence_length` tokens. `adapt` orders
    the vocabulary by frequency, ties by the token in reverse code-point
    order (TextVectorization's rule), so a text set always gives the same
    ids, on TensorFlow, JAX or torch.

    Args:
        vocabulary: Tokens in id order: "" (padding), "[UNK]" (outside the
            vocabulary), then the learned tokens.
        sequence_length: Ids per text.

    Example:

    >>> vectorizer = TextVectorizer.adapt(
    ...     ["the cat sat", "the dog sat down"], max_tokens=6,
    ...     sequence_length=6)
    >>> vectorizer.vocabulary
    ['', '[UNK]', 'the', 'sat', 'down', 'dog']
    >>> vectorizer(["The dog sat on the cat!"]).tolist()
    [[2, 5, 3, 1, 2, 1]]
    >>> vectorizer(["Sat."]).tolist()
    [[3, 0, 0, 0, 0, 0]]
    """

    def __init__(self, vocabulary, sequence_length):
        vocabulary = list(vocabulary)
        if tuple(vocabulary[:2]) != RESERVED:
            raise ValueError(
                'The vocabulary must start with "" (padding) and "[UNK]" '
                f"(outside the vocabulary). Received: {vocabulary[:2]}"
            )
        if int(sequence_length) < 1:
            raise ValueError(
                "sequence_length must be a positive number of tokens. "
                f"Received: {sequence_length}"
            )
        self.vocabulary = vocabulary
        self.sequence_length = int(sequence_length)
        self._ids = {token: i for i, token in enumerate(vocabulary)}

    @classmethod
    def adapt(cls, texts, max_tokens, sequence_length):
        """A vectorizer with the `max_tokens - 2` most frequent tokens of
        `texts`."""
        if max_tokens < 3:
            raise ValueError(
                "max_tokens counts padding and [UNK] too, so it must be at "
                f"least 3. Received: {max_tokens}"
            )
        counts = collections.Counter()
        for text in texts:
            counts.update(text_tokens(text))
        ranked = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]))[::-1]
        learned = [token for token, _ in ranked[: max_tokens - len(RESERVED)]]
        return cls([*RESERVED, *learned], sequence_length)

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    def __call__(self, texts):
        """int32 [len(texts), sequence_length] ids of `texts`."""
        rows = np.full((len(texts), self.sequence_length), PAD_ID, np.int32)
        for row, text in zip(rows, texts):
            ids = [
                self._ids.get(token, OOV_ID)
                for token in text_tokens(text)[: self.sequence_length]
            ]
            row[: len(ids)] = ids
        return rows

    def get_config(self):
        return {
            "standardize": "lower_and_strip_punctuation",
            "split": "whitespace",
            "sequence_length": self.sequence_length,
            "vocabulary": self.vocabulary,
        }

    def save(self, path):
        """Writes the vectorizer as JSON (`load` reads it back)."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.get_config(), f, ensure_ascii=False)

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
        return cls(config["vocabulary"], config["sequence_length"])
