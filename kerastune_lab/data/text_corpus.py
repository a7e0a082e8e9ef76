"""Plain-text corpora for the masked LM: embedded, or the user's files."""

import pathlib

from kerastune_lab.errors import UserError


def load_pydoc_corpus():
    """Python's own help topics (stdlib `pydoc_data`): ~465 KB of English
    technical prose in 79 documents, present wherever Python is."""
    from pydoc_data.topics import topics

    return [text for _, text in sorted(topics.items())]


def load_text_files(path):
    """One document per .txt file: `path` is a file or a folder of them."""
    path = pathlib.Path(path)
    if path.is_dir():
        files = sorted(path.rglob("*.txt"))
        if not files:
            raise UserError(
                f"Folder {str(path)!r} has no .txt files. Pass a .txt file "
                "or a folder holding some as data.path."
            )
    elif path.is_file():
        files = [path]
    else:
        raise UserError(
            f"Text path {str(path)!r} does not exist. Set data.path to a "
            ".txt file or a folder of .txt files."
        )
    texts = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UserError(f"{file} is not UTF-8 text.") from None
        if text.strip():
            texts.append(text)
    if not texts:
        raise UserError(f"{path} holds no text.")
    return texts
