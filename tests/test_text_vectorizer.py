"""The NumPy text vectorizer against Keras's TextVectorization."""

import numpy as np
import pytest

from kerastune_lab.data.text_vectorizer import TextVectorizer

# What TextVectorization's defaults treat in their own way: ASCII-only
# lowercasing (É, Ä, Σ stay), ASCII punctuation only (“ ” and … stay),
# ASCII whitespace only (\xa0, \u2003, \x1c join words), empty texts,
# texts of punctuation alone, tokens tied in count across the cut.
TEXTS = [
    "The cat sat. THE CAT SAT!",
    "École, ÉCOLE & école; Äpfel — ÄPFEL… “quoted” (brackets) [x] {y}",
    "tab\tnew\nline\r\nvertical\x0bform\x0cfeed  spaces",
    "no\xa0break em\u2003space file\x1cseparator",
    "",
    "?!.,;:'\"-_/\\|@#$%^&*()[]{}<>~`+=",
    "don't can't won't it's o'clock e-mail x/y a.b.c",
    "ΣΊΣΥΦΟΣ σίσυφος tie1 tie2 tie3 tie4 tie5 tie6",
    "zeta alpha mid mid",
    "12 345 6.78 1,000 #1 50%",
]


@pytest.mark.parametrize("max_tokens", [200, 12, 7])
def test_vocabulary_and_ids_are_those_of_text_vectorization(max_tokens):
    import keras
    import tensorflow as tf

    reference = keras.layers.TextVectorization(
        max_tokens=max_tokens, output_sequence_length=9
    )
    reference.adapt(tf.constant(TEXTS))
    vectorizer = TextVectorizer.adapt(TEXTS, max_tokens, 9)
    assert vectorizer.vocabulary == reference.get_vocabulary()
    assert vectorizer.vocabulary_size == reference.vocabulary_size()
    unseen = ["The unseen cat", "ÄPFEL… école", "", "a " * 20]
    for texts in (TEXTS, unseen):
        np.testing.assert_array_equal(
            vectorizer(texts), np.asarray(reference(tf.constant(texts)))
        )


def test_order_is_frequency_then_reverse_code_point():
    vectorizer = TextVectorizer.adapt(
        ["b a c b", "c a d b"], max_tokens=10, sequence_length=2
    )
    # b: 3; c, a: 2 (c before a); d: 1.
    assert vectorizer.vocabulary == ["", "[UNK]", "b", "c", "a", "d"]
    assert vectorizer(["d e b"]).tolist() == [[5, 1]]


def test_saved_and_loaded_gives_the_same_ids(tmp_path):
    vectorizer = TextVectorizer.adapt(TEXTS, 50, 6)
    vectorizer.save(tmp_path / "v.json")
    loaded = TextVectorizer.load(tmp_path / "v.json")
    assert loaded.vocabulary == vectorizer.vocabulary
    np.testing.assert_array_equal(loaded(TEXTS), vectorizer(TEXTS))


@pytest.mark.parametrize(
    "vocabulary, length, match",
    [
        (["a", "b"], 4, r"must start with .*Received: \['a', 'b'\]"),
        (["", "[UNK]", "a"], 0, "sequence_length.*Received: 0"),
    ],
)
def test_bad_arguments_say_what_was_received(vocabulary, length, match):
    with pytest.raises(ValueError, match=match):
        TextVectorizer(vocabulary, length)
    with pytest.raises(ValueError, match=r"at least 3\. Received: 2"):
        TextVectorizer.adapt(["a"], 2, 4)
