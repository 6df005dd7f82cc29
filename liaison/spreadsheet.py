"""Cells of the CSV files staff open in a spreadsheet.

A text starting with `=`, `+`, `-`, `@` (or a tab or carriage return) would be run as a
formula by Excel or LibreOffice (CSV injection): it gets a leading `'` and is shown as typed.
"""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """`value`, never read as a formula."""
    return f"'{value}" if value.startswith(FORMULA_START) else value
