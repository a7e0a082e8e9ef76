"""Writes reference/experiment-keys.md from the fields' own declarations.

Run by the mkdocs-gen-files plugin at every `mkdocs build`, so the page
cannot drift from the code: each key's type, default, allowed values and
text come from its `fields.option` declaration.
"""

import mkdocs_gen_files

from kerastune_lab.config.key_reference import reference_sections

PAGE = "reference/experiment-keys.md"


def _table(rows):
    lines = ["| key | default | allowed | what |", "|---|---|---|---|"]
    for row in rows:
        cells = [f"`{row.key}`", f"`{row.default}`", row.allowed, row.doc]
        lines.append(
            "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
        )
    return lines


def main():
    out = [
        "# Experiment keys",
        "",
        "Every key of an experiment file, generated from the code that checks "
        "it. Override any of them on the command line with "
        "`--set section.key=value` (the value is parsed as TOML).",
        "",
    ]
    for section in reference_sections():
        out += [f"## {section.title}", "", section.doc, ""]
        out += _table(section.rows) + [""]
    with mkdocs_gen_files.open(PAGE, "w") as page:
        page.write("\n".join(out))


main()
