"""The example experiment files that ship with the package.

They are package data (kerastune_lab/examples/*.toml), so every command
in the docs works after `pip install`; in a checkout that folder links to
the repository's experiments/, where the files are edited.
"""

import pathlib
import re
import shutil

from kerastune_lab.errors import UserError
from kerastune_lab.fields import closest

EXAMPLES = pathlib.Path(__file__).resolve().parent / "examples"


def example_files() -> dict[str, pathlib.Path]:
    """{name: path} of every example, by name (the file's stem).

    Example:

    >>> files = example_files()
    >>> files["sd_study"].name
    'sd_study.toml'
    """
    return {path.stem: path for path in sorted(EXAMPLES.glob("*.toml"))}


def summary(path, width=90) -> str:
    """What an experiment file is: the first sentence of its leading
    comment, or where that runs long, the clause before its first colon.

    Example:

    >>> import tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.toml"
    >>> _ = path.write_text("# A GRU study: two rates x three\\n# seeds.\\n")
    >>> summary(path, width=20)
    'A GRU study'
    """
    comment = []
    for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#") or not line.strip("# "):
            break
        comment.append(line.lstrip("#").strip())
    text = " ".join(comment)
    sentence = re.split(r"(?<=\.)\s", text, maxsplit=1)[0]
    if len(sentence) <= width:
        return sentence
    clause = sentence.split(":", 1)[0]
    return clause if len(clause) <= width else clause[: width - 3] + "..."


def example_file(name) -> pathlib.Path:
    """The example called `name` (with or without .toml).

    Raises:
        UserError: No such example; the message names the closest one.
    """
    files = example_files()
    stem = str(name).removesuffix(".toml")
    if stem not in files:
        near = closest(stem, files)
        raise UserError(
            f"No example named {str(name)!r}."
            + (f" Did you mean {near}?" if near else "")
            + " `kerastune-lab examples` lists them."
        )
    return files[stem]


def copy_example(name, folder=".") -> pathlib.Path:
    """Copies the example `name` into `folder`; returns the new file.

    Raises:
        UserError: No such example, or the file exists there already (it
            is never overwritten).
    """
    source = example_file(name)
    target = pathlib.Path(folder) / source.name
    if target.exists():
        raise UserError(
            f"{target} exists already; it is left as it is. Remove or "
            "rename it, or copy the example into another folder."
        )
    shutil.copyfile(source, target)
    return target
