"""Every plot is drawn in the house style (model_zoo.plot_style): text large enough for a projector."""
import numpy as np

from explain.latent_pixel.figures import speckle_figure
from explain.trajectory.figures import dataset_figure
from model_zoo.experiments.scoreboard import committed_rows, scoreboard_figure
from model_zoo.plot_style import FONT_SIZE


def font_size(fig) -> float:
    """The base font size a figure renders with: its own, else its template's."""
    return fig.layout.font.size or fig.layout.template.layout.font.size


def test_figures_are_drawn_with_the_house_font_size():
    figures = [dataset_figure(np.zeros((3, 2)), np.array([40.0, 55.0, np.nan]), ["a", "b", "c"]),
               speckle_figure({"jepa": {"within": 1.0, "between": 10.0, "ratio": 0.1}})[0],
               scoreboard_figure(committed_rows())[0]]
    assert FONT_SIZE > 12                                        # plotly's default, too small on a projector
    assert [font_size(f) for f in figures] == [FONT_SIZE] * len(figures)
