"""Fixed-width text tables laid out the way benchstat lays them out.

Cells sit on a grid; a cell may span columns and carries a left margin (" │ ", " ± ") and an
alignment. A column is as wide as its widest cell plus the widest margin seen in it; a spanning
cell that does not fit widens the columns it spans (never the "shrink" ones), widest first,
sharing the remainder evenly. Empty cells print nothing, so lines carry no trailing spaces.
"""

from __future__ import annotations

from dataclasses import dataclass

LEFT, CENTER, RIGHT = "left", "center", "right"


@dataclass
class _Cell:
    row: int
    col: int
    span: int
    value: str
    margin: str
    align: str


class TextTable:
    def __init__(self) -> None:
        self._cells: list[_Cell] = []
        self._ncols = 0
        self._shrink: set[int] = set()
        self._row = 0
        self._col = 0

    def row(self) -> TextTable:
        if self._cells:
            self._row += 1
        self._col = 0
        return self

    def col(self, col: int) -> TextTable:
        if col < self._col:
            raise ValueError(f"cannot move from column {self._col} back to {col}")
        self._col = col
        return self

    @property
    def cur_col(self) -> int:
        return self._col

    def cell(self, value: str, *, align: str = LEFT, margin: str | None = None) -> TextTable:
        return self.span(1, value, align=align, margin=margin)

    def span(self, cols: int, value: str, *, align: str = LEFT,
             margin: str | None = None) -> TextTable:
        if margin is None:
            margin = "" if self._col == 0 or not value else " "
        self._cells.append(_Cell(self._row, self._col, cols, value, margin, align))
        self._col += cols
        self._ncols = max(self._ncols, self._col)
        return self

    def set_shrink(self, col: int) -> None:
        self._shrink.add(col)

    def render(self) -> str:
        n = self._ncols
        margins = [0] * n
        for c in self._cells:
            margins[c.col] = max(margins[c.col], len(c.margin))
        widths = [0] * n
        for c in sorted(self._cells, key=lambda c: c.span):
            need = len(c.value) + margins[c.col]
            if c.span == 1:
                widths[c.col] = max(widths[c.col], need)
                continue
            cols = range(c.col, c.col + c.span)
            if sum(widths[i] for i in cols) >= need:
                continue
            growable = []
            for i in cols:
                if i in self._shrink:
                    need -= widths[i]
                else:
                    growable.append(i)
            growable.sort(key=lambda i: -widths[i])
            left = len(growable)
            for i in growable:
                avg = -(-need // left)  # ceiling
                widths[i] = max(widths[i], avg)
                need -= widths[i]
                left -= 1
        offsets = [0] * (n + 1)
        for i in range(n):
            offsets[i + 1] = offsets[i] + widths[i]

        out: list[str] = []
        row, pos = 0, 0
        for c in sorted(self._cells, key=lambda c: (c.row, c.col)):
            if not c.value.strip() and not c.margin.strip():
                continue
            while c.row > row:
                out.append("\n")
                row += 1
                pos = 0
            gap = offsets[c.col] - pos
            out.append(" " * gap + c.margin.rjust(margins[c.col]))
            pos += gap + margins[c.col]
            width = offsets[c.col + c.span] - offsets[c.col] - margins[c.col]
            text = _pad(c.value, width, c.align)
            out.append(text)
            pos += len(text)
        if self._cells:
            out.append("\n")
        return "".join(out)


def _pad(value: str, width: int, align: str) -> str:
    if align == CENTER:
        return " " * max((width - len(value)) // 2, 0) + value
    if align == RIGHT:
        return value.rjust(width)
    return value
