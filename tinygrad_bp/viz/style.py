"""Looks of the drawings: number formatting, the log-scale gradient colour map, HTML-like
labels for graphviz, and the legend."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from tinygrad_bp.viz.stats import GradStats

FONT = "Helvetica"
EDGE = "#5b6675"
INK = "#1f2933"
MUTED = "#52606d"
TIMES = "\u00d7"  # the multiplication sign, as in "Tanh x 999"
NAN_FILL = "#d62728"  # NaN / Inf gradients: the only red in the picture
NO_GRAD_FILL = "#ffffff"
ZERO_FILL = "#c4c9cf"  # an exactly zero gradient (dead ReLU, unused output): not the 1e-lo colour
OP_FILL = "#f1f3f5"  # before backward: light grey ops, light blue parameters
PARAM_FILL = "#dbeafe"
LEAF_FILL = "#e6f4ea"
DATA_FILL = "#ffffff"

# viridis (perceptually uniform, colour-blind safe, no red): dark = small grads, yellow = large
_VIRIDIS = [
    (0x44, 0x01, 0x54),
    (0x48, 0x28, 0x78),
    (0x3E, 0x4A, 0x89),
    (0x31, 0x68, 0x8E),
    (0x26, 0x82, 0x8E),
    (0x1F, 0x9E, 0x89),
    (0x35, 0xB7, 0x79),
    (0x6E, 0xCE, 0x58),
    (0xB5, 0xDE, 0x2B),
    (0xFD, 0xE7, 0x25),
]


def esc(s: object) -> str:
    """Escape text for a graphviz HTML-like label."""
    return html.escape(str(s), quote=True)


# --------------------------------------------------------------------------- colour scale
def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{round(c):02x}" for c in rgb)


def _viridis(x: float) -> tuple[float, float, float]:
    x = min(max(x, 0.0), 1.0) * (len(_VIRIDIS) - 1)
    i = min(int(x), len(_VIRIDIS) - 2)
    f = x - i
    a, b = _VIRIDIS[i], _VIRIDIS[i + 1]
    return (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2]))


def _ink_for(rgb: Sequence[float]) -> str:
    lum = (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255
    return "#ffffff" if lum < 0.45 else INK


class GradScale:
    """Maps mean |grad| to a colour on a log10 scale spanning the decades seen in a graph
    (or the fixed ``span``, to compare drawings); values outside it get the end colours."""

    def __init__(self, values: Sequence[float], span: tuple[float, float] | None = None) -> None:
        pos = [v for v in values if v > 0 and math.isfinite(v)]
        if span is not None:
            lo, hi = math.floor(math.log10(span[0])), math.ceil(math.log10(span[1]))
        elif pos:
            lo, hi = math.floor(math.log10(min(pos))), math.ceil(math.log10(max(pos)))
        else:
            lo, hi = -1, 0
        if hi - lo < 2:  # at least two decades, so a lone value does not look extreme
            lo = hi - 2
        # legend ticks every `step` decades, at most 7 of them, both ends included
        self.step = math.ceil((hi - lo) / 6)
        self.lo, self.hi = hi - self.step * math.ceil((hi - lo) / self.step), hi

    def colour(self, st: GradStats | None) -> tuple[str, str] | None:
        """(fill, font colour) for a gradient summary; None when there is nothing to show."""
        if st is None:
            return None
        if not st.finite:
            return NAN_FILL, "#ffffff"
        if st.max_abs == 0:
            return ZERO_FILL, INK
        v = st.mean_abs
        x = 0.0 if v <= 0 else (math.log10(v) - self.lo) / (self.hi - self.lo)
        rgb = _viridis(x)
        return _hex(rgb), _ink_for(rgb)

    def legend(self) -> str:
        """An HTML-like table: the colour bar with its decades, NaN/Inf and 'no grad'."""
        decades = list(range(self.lo, self.hi + 1, self.step))
        n = len(decades)
        cells = []
        labels = []
        for d in decades:
            x = (d - self.lo) / (self.hi - self.lo)
            cells.append(f'<TD BGCOLOR="{_hex(_viridis(x))}" WIDTH="30" HEIGHT="12"></TD>')
            labels.append(f'<TD><FONT POINT-SIZE="8">1e{d}</FONT></TD>')
        small = '<FONT POINT-SIZE="9">'
        rows = [
            f'<TR><TD COLSPAN="{n}" ALIGN="LEFT"><B>mean |grad|</B>{small} (log scale)</FONT>'
            "</TD></TR>",
            "<TR>" + "".join(cells) + "</TR>",
            "<TR>" + "".join(labels) + "</TR>",
            f'<TR><TD BGCOLOR="{NAN_FILL}" HEIGHT="12"></TD>'
            f'<TD COLSPAN="{max(n - 1, 1)}" ALIGN="LEFT">{small}NaN / Inf</FONT></TD></TR>',
            f'<TR><TD BGCOLOR="{ZERO_FILL}" HEIGHT="12"></TD>'
            f'<TD COLSPAN="{max(n - 1, 1)}" ALIGN="LEFT">{small}exactly 0</FONT></TD></TR>',
            f'<TR><TD BGCOLOR="{NO_GRAD_FILL}" BORDER="1" HEIGHT="12"></TD>'
            f'<TD COLSPAN="{max(n - 1, 1)}" ALIGN="LEFT">{small}no grad recorded</FONT></TD></TR>',
            f'<TR><TD COLSPAN="{n}" ALIGN="LEFT">{small}square: leaf · rounded: op · '
            "double border: output · dashed: constant input</FONT></TD></TR>",
            f'<TR><TD COLSPAN="{n}" ALIGN="LEFT">{small}• in Op(•, 2): a graph input · '
            "const: a constant the op did not keep</FONT></TD></TR>",
            f'<TR><TD COLSPAN="{n}" ALIGN="LEFT">{small}numbers at arrow heads: argument '
            "position (x=0, y=1)</FONT></TD></TR>",
        ]
        return (
            '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1">'
            + "".join(rows)
            + "</TABLE>>"
        )


# --------------------------------------------------------------------------- labels
def table(head: str, rows: Sequence[str], ink: str = INK) -> str:
    """An HTML-like label: ``head`` (markup) in the normal size, then small rows."""
    out = [f'<TR><TD><FONT COLOR="{ink}">{head}</FONT></TD></TR>']
    out += [f'<TR><TD><FONT POINT-SIZE="9" COLOR="{ink}">{r}</FONT></TD></TR>' for r in rows]
    return (
        '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
        + "".join(out)
        + "</TABLE>>"
    )
