"""A self-contained HTML page from the small Markdown our reports write.

Handles what the reports use: # and ## headings, paragraphs, "- " bullets
(with **bold**), pipe tables and ![alt](file.png) images, which are
embedded as base64 so the page works when copied or mailed on its own.
"""

import base64
import html
import re

_STYLE = (
    "body{font-family:sans-serif;max-width:1200px;margin:auto;"
    "padding:0 1em}table{border-collapse:collapse;margin:1em 0;"
    "display:block;overflow-x:auto}"
    "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}"
    "th{background:#f4f4f4}img{max-width:100%}code{background:#f4f4f4}"
)


def _inline(text):
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def _table(rows):
    cells = [
        [c.strip() for c in row.strip().strip("|").split("|")]
        for row in rows
        if not re.fullmatch(r"\|?(\s*-+\s*\|)+\s*", row)
    ]
    head, body = cells[0], cells[1:]
    return (
        "<table><tr>"
        + "".join(f"<th>{_inline(c)}</th>" for c in head)
        + "</tr>"
        + "".join(
            "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>"
            for row in body
        )
        + "</table>"
    )


def render_html(title, markdown, folder):
    """The page for `markdown`; images are read from `folder`."""
    parts, table, bullets = [], [], []

    def flush():
        if table:
            parts.append(_table(table))
            table.clear()
        if bullets:
            parts.append(
                "<ul>" + "".join(f"<li>{b}</li>" for b in bullets) + "</ul>"
            )
            bullets.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        if line.startswith("- "):
            bullets.append(_inline(line[2:]))
            continue
        flush()
        image = re.fullmatch(r"!\[(.*)\]\((.+)\)", line.strip())
        if image:
            data = base64.b64encode((folder / image[2]).read_bytes()).decode()
            parts.append(
                f'<figure><img alt="{html.escape(image[1])}" '
                f'src="data:image/png;base64,{data}"></figure>'
            )
        elif line.startswith("## "):
            parts.append(f"<h2>{_inline(line[3:])}</h2>")
        elif line.startswith("# "):
            parts.append(f"<h1>{_inline(line[2:])}</h1>")
        elif line.strip():
            parts.append(f"<p>{_inline(line)}</p>")
    flush()
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{html.escape(title)}</title><style>{_STYLE}</style></head>"
        "<body>\n" + "\n".join(parts) + "\n</body></html>\n"
    )
