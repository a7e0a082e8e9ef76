"""Plain-text corpora for the masked LM: embedded, or the user's files."""

import pathlib

from kerastune_lab.errors import UserError


def load_pydoc_corpus():
    """Python's own help topics (stdlib `pydoc_data`): ~465 KB of English
    technical prose in 79 documents, present wherever Python is."""
    from pydoc_data.topics import topics

    return [text for _, text in sorted(topics.items())]


# Standard-library modules whose source is the `python_source` corpus:
# long-lived, written in Python in every CPython since 3.11 (as a module or
# a package's __init__.py).
PYTHON_SOURCE_MODULES = (
    "argparse", "ast", "calendar", "configparser", "csv", "dataclasses",
    "difflib", "enum", "fractions", "functools", "gettext", "heapq",
    "inspect", "ipaddress", "pprint", "shutil", "statistics", "tarfile",
    "textwrap", "threading", "tokenize", "typing", "zipfile",
)  # fmt: skip


def load_python_source_corpus():
    """The source code of some standard-library modules (~1.3 MB, one
    document per module), present wherever CPython is: code, whose tokens
    follow from their neighbours far more than prose's do, so a small
    masked LM learns context within a few hundred steps."""
    import importlib.util

    texts = []
    for name in PYTHON_SOURCE_MODULES:
        spec = importlib.util.find_spec(name)
        origin = pathlib.Path(spec.origin) if spec and spec.origin else None
        if origin is None or origin.suffix != ".py" or not origin.is_file():
            raise UserError(
                f"The python_source corpus needs the source of the standard "
                f"library's {name!r} module, which this Python does not ship "
                f"(found {origin}). Use data.name = 'pydoc', or 'text' with "
                "data.path."
            )
        texts.append(origin.read_text(encoding="utf-8"))
    return texts


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
