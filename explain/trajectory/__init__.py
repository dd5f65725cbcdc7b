"""How a model's embedding moves through a heartbeat: per-frame window embeddings, projections,
cardiac phase, loop metrics, plotly figures and a one-point-per-clip dataset view."""
