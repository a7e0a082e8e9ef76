"""A self-contained HTML page from a report's Markdown.

Python-Markdown (with its tables extension) renders the text; images the
report links (![alt](file.png)) are embedded as base64, so the page works
when copied or mailed on its own.
"""

import base64
import html
import re

import markdown

_STYLE = (
    "body{font-family:sans-serif;max-width:1200px;margin:auto;"
    "padding:0 1em}table{border-collapse:collapse;margin:1em 0;"
    "display:block;overflow-x:auto}"
    "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}"
    "th{background:#f4f4f4}img{max-width:100%}code{background:#f4f4f4}"
)


def render_html(title, text, folder):
    """The page for Markdown `text`; linked PNG files are read from
    `folder` and embedded.

    Example:

    >>> import pathlib
    >>> text = "# Hi\\n\\n| a |\\n|---|\\n| 1 |"
    >>> page = render_html("t", text, pathlib.Path())
    >>> "<h1>Hi</h1>" in page and "<td>1</td>" in page
    True
    """

    def embed(match):
        path = folder / html.unescape(match[1])
        if not path.is_file():
            return match[0]
        data = base64.b64encode(path.read_bytes()).decode()
        return f'src="data:image/png;base64,{data}"'

    body = markdown.markdown(text, extensions=["tables"])
    body = re.sub(r'src="([^"]+\.png)"', embed, body)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{html.escape(title)}</title><style>{_STYLE}</style></head>"
        "<body>\n" + body + "\n</body></html>\n"
    )
