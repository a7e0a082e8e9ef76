"""Writes docs/reference/experiment-keys.md from the fields' own
declarations: `python docs_gen/experiment_keys.py`.

The page is committed so that it reads in the repository as well as on
the site; tests/test_key_reference.py fails when it differs from what
this script writes, so it cannot drift from the code: each key's type,
default, allowed values and text come from its `fields.option`
declaration.
"""

import pathlib

from kerastune_lab.config.key_reference import reference_sections

PAGE = (
    pathlib.Path(__file__).resolve().parent.parent
    / "docs"
    / "reference"
    / "experiment-keys.md"
)


def _table(rows):
    lines = ["| key | default | allowed | what |", "|---|---|---|---|"]
    for row in rows:
        cells = [f"`{row.key}`", f"`{row.default}`", row.allowed, row.doc]
        lines.append(
            "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
        )
    return lines


def page_text():
    """The page, as the code declares the keys today."""
    out = [
        "# Experiment keys",
        "",
        "Every key of an experiment file, generated from the code that checks "
        "it (`python docs_gen/experiment_keys.py`). Override any of them on "
        "the command line with `--set section.key=value` (the value is "
        "parsed as TOML).",
        "",
    ]
    for section in reference_sections():
        out += [f"## {section.title}", "", section.doc, ""]
        out += _table(section.rows) + [""]
    return "\n".join(out)


if __name__ == "__main__":
    PAGE.write_text(page_text())
    print(PAGE)
