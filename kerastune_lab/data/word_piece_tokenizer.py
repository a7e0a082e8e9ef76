"""BERT's WordPiece tokenisation by the `tokenizers` library (no
TensorFlow: the same token ids on every Keras backend)."""

import json

import numpy as np

RESERVED_TOKENS = ("[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]")
# Words longer than this are one [UNK] (BERT's and keras-hub's limit).
MAX_WORD_LENGTH = 100


def _bert_tokenizer(vocabulary, lowercase):
    """A `tokenizers.Tokenizer`: BERT's normaliser (lowercasing and accent
    stripping when `lowercase`) and pre-tokeniser (whitespace, punctuation
    and CJK characters split), then WordPiece with `##` continuations."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    tokenizer = Tokenizer(
        models.WordPiece(
            vocabulary,
            unk_token="[UNK]",
            max_input_chars_per_word=MAX_WORD_LENGTH,
        )
    )
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tokenizer


def _continuing_characters(tokenizer, texts):
    """Characters that occur inside a word (after its first) of `texts`,
    sorted: the `##c` pieces a WordPiece vocabulary starts from."""
    found = set()
    for text in texts:
        normal = tokenizer.normalizer.normalize_str(text)
        for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(normal):
            found.update(word[1:])
    return sorted(found)


class WordPieceTokenizer:
    """BERT's WordPiece tokenizer on the `tokenizers` library.

    Build one with `train` (a vocabulary learned from texts),
    `from_vocabulary`, `from_preset` (a keras-hub preset's or a Hugging
    Face BERT folder's own vocabulary) or `load` (a file `save` wrote, in
    the `tokenizers` library's JSON format). Text is cut as the original
    BERT cuts it (and Hugging Face's BertTokenizer): accents stripped and
    lowercased when `lowercase`, split at whitespace, punctuation and CJK
    characters, then into the longest vocabulary pieces.

    Args:
        tokenizer: A `tokenizers.Tokenizer` with a WordPiece model.

    Example:

    >>> tokenizer = WordPieceTokenizer.from_vocabulary(
    ...     [*RESERVED_TOKENS, "the", "cat", "##s", "sat"])
    >>> tokenizer(["The cats sat."])[0].tolist()
    [5, 6, 7, 8, 3]
    >>> tokenizer.token_to_id("[MASK]"), tokenizer.vocabulary_size()
    (4, 9)
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        ids = tokenizer.get_vocab()
        self._vocabulary = sorted(ids, key=ids.get)

    @classmethod
    def from_vocabulary(cls, vocabulary, lowercase=True):
        """Tokens in id order; `lowercase` as the vocabulary was made."""
        ids = {token: i for i, token in enumerate(vocabulary)}
        missing = [t for t in RESERVED_TOKENS if t not in ids]
        if missing:
            raise ValueError(
                f"The vocabulary has no {', '.join(missing)}: a BERT "
                f"vocabulary holds {', '.join(RESERVED_TOKENS)}."
            )
        return cls(_bert_tokenizer(ids, lowercase))

    @classmethod
    def train(cls, texts, vocabulary_size, lowercase=True):
        """A vocabulary of about `vocabulary_size` tokens learned from
        `texts` by `tokenizers`' WordPiece trainer (more where the corpus
        has more distinct characters: every character is kept).

        The trainer numbers the `##c` pieces in the order of a hash map
        that changes from process to process, and breaks ties between
        equally frequent merges by those numbers; giving it every `##c`
        up front, sorted, makes the vocabulary the same in every process.
        """
        from tokenizers import trainers

        tokenizer = _bert_tokenizer({}, lowercase)
        pieces = [f"##{c}" for c in _continuing_characters(tokenizer, texts)]
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocabulary_size,
            special_tokens=[*RESERVED_TOKENS, *pieces],
            show_progress=False,
        )
        tokenizer.train_from_iterator(texts, trainer)
        ids = tokenizer.get_vocab()
        # Rebuilt so that only text, never a `##c` typed in it, maps to
        # the pieces (the trainer registers its tokens as special).
        return cls.from_vocabulary(sorted(ids, key=ids.get), lowercase)

    @classmethod
    def from_preset(cls, preset):
        """The vocabulary and lowercasing of a keras-hub preset (a name or
        a folder) or of a Hugging Face BERT folder (vocab.txt)."""
        from kerastune_lab.keras_internals import preset_file

        def read_json(path):
            with open(preset_file(preset, path), encoding="utf-8") as f:
                return json.load(f)

        if "registered_name" in read_json("config.json"):  # keras-hub's
            config = read_json("tokenizer.json")["config"]
            lowercase = config.get("lowercase", False)
            vocabulary_file = "assets/tokenizer/vocabulary.txt"
        else:  # a Hugging Face folder
            config = read_json("tokenizer_config.json")
            lowercase = config.get("do_lower_case", True)
            vocabulary_file = "vocab.txt"
        path = preset_file(preset, vocabulary_file)
        with open(path, encoding="utf-8") as f:
            vocabulary = [line.rstrip() for line in f]
        return cls.from_vocabulary(vocabulary, lowercase)

    @classmethod
    def from_json(cls, text):
        """The tokenizer `to_json` wrote."""
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_str(text))

    def to_json(self):
        """The tokenizer in the `tokenizers` library's JSON format."""
        return self.tokenizer.to_str()

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls.from_json(f.read())

    def save(self, path):
        """Writes `to_json()` to `path` (`load` reads it back, and so does
        `tokenizers.Tokenizer.from_file`)."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_json())

    def __call__(self, texts):
        """One int32 array of token ids per text."""
        return [
            np.asarray(encoding.ids, dtype=np.int32)
            for encoding in self.tokenizer.encode_batch(
                list(texts), add_special_tokens=False
            )
        ]

    def get_vocabulary(self):
        """The tokens, in id order."""
        return list(self._vocabulary)

    def vocabulary_size(self):
        return len(self._vocabulary)

    def token_to_id(self, token):
        return self.tokenizer.token_to_id(token)

    def id_to_token(self, token_id):
        return self._vocabulary[token_id]
