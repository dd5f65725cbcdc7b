"""The look of every plot the project draws (the recipes plot, the degradation lab, the audit, the cardiac
cycle, the latent-vs-pixel figures): one colour per model family, JEPA blue, MAE red, the baselines grey and
black, and text large enough to read on a projector (plotly's default is 12 px)."""
import plotly.graph_objects as go
import plotly.io as pio

FAMILY_COLOURS = {"jepa": "#1f77b4", "mae": "#d62728", "random": "#7f7f7f", "pixels": "#000000"}
FONT_SIZE = 14          # px; titles, legends, axes and hover text scale from it
SMALL_FONT_SIZE = 12    # notes set beside a plot's lines (the degradation lab's conditions and bands)

pio.templates["echolens"] = go.layout.Template(layout=dict(font=dict(size=FONT_SIZE)))
TEMPLATE = "plotly+echolens"    # plotly's own look with the larger text: fig.update_layout(template=TEMPLATE)
