"""Text-classification data from a CSV file with a header row."""

import csv
import pathlib

from kerastune_lab.errors import UserError


def load_csv_texts(path, text_column="text", label_column="label"):
    """Returns (texts, labels, class_names) read from a CSV file.

    Labels may be any strings (or numbers); classes are their sorted
    distinct values, and `labels` holds indices into that list.
    """
    path = pathlib.Path(path)
    hint = (
        "Expected a CSV file with a header row and the columns "
        f"{text_column!r} and {label_column!r} (set data.text_column / "
        "data.label_column for other names)."
    )
    if not path.is_file():
        raise UserError(f"Data file {str(path)!r} does not exist. {hint}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            missing = [
                c for c in (text_column, label_column) if c not in columns
            ]
            if missing:
                raise UserError(
                    f"{path}: no column {missing[0]!r} in the header "
                    f"(columns: {', '.join(columns) or 'none'}). {hint}"
                )
            rows = [
                (row[text_column], row[label_column])
                for row in reader
                if (row[text_column] or "").strip()
                and (row[label_column] or "").strip()
            ]
    except (UnicodeDecodeError, csv.Error) as error:
        raise UserError(
            f"{path} is not a readable UTF-8 CSV ({error}). Save it as "
            f"UTF-8, e.g. iconv -f latin1 -t utf-8 {path} > utf8.csv."
        ) from None
    if not rows:
        raise UserError(f"{path} has no rows with both text and label. {hint}")
    class_names = sorted({label.strip() for _, label in rows})
    if len(class_names) < 2:
        raise UserError(
            f"{path}: column {label_column!r} has a single class "
            f"({class_names[0]!r}); classification needs at least two."
        )
    index = {name: i for i, name in enumerate(class_names)}
    texts = [text for text, _ in rows]
    labels = [index[label.strip()] for _, label in rows]
    return texts, labels, class_names
