"""Markdown tables for ``results/*.md``, written one way everywhere.

Hand-written rather than ``tabulate``: three lines do it, and the cells stay unpadded, so a regenerated table differs
from the committed one only where a number changed.
"""


def markdown_table(header: list, rows: list[list]) -> list[str]:
    """The lines of a GitHub-flavoured Markdown table: header, separator, one line per row (cells as ``str``)."""
    return [
        "| " + " | ".join(_cell(cell) for cell in header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows),
    ]


def _cell(value) -> str:
    """A cell's text that stays one cell: a recipe's row label or a file name may hold a ``|`` or a line break."""
    return " ".join(str(value).replace("\\", "\\\\").replace("|", "\\|").split())
