"""What every part of the report shares: page size, colours, the intervals shown, how
SIMULATED data are marked, and how a figure is made without touching pyplot's global state."""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

SHOWN_PROBS = (0.5, 0.8, 0.95)  # the bands charts and tables show (summaries carry 90% too)
PREDICTIVE_PROB = 0.9  # published figures are checked against 90% intervals
HISTORY_MONTHS = 24  # months of history in the table and the fan charts
SIMULATED_WORD = "SIMULATED"
SIMULATED_BANNER = "SIMULATED DATA: not an estimate of the real world"
DPI = 110
PAGE = (11.69, 8.27)  # A4 landscape, inches
BAND_ALPHA = {0.95: 0.18, 0.8: 0.3, 0.5: 0.5}
NOWCAST_COLOUR = "#1f4e79"
FORECAST_COLOUR = "#c55a11"
ALERT_COLOUR = "#c00000"


def titled(text: str, simulated: bool) -> str:
    """``text``, prefixed with SIMULATED when the data are not real."""
    return f"{SIMULATED_WORD}: {text}" if simulated else text


def new_figure(width: float, height: float) -> Figure:
    """A figure owned by the caller alone: not registered with pyplot (nothing to close, no
    window in a notebook) and drawn by Agg whatever backend the user has chosen."""
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)  # a canvas that can lay out and render, without selecting a backend
    return fig
