"""An apical 4-chamber echocardiography phantom with known EF, phase, anatomy and noise-free image."""
from echo.phantom.params import PhantomParams, sample_params
from echo.phantom.render import render, render_clip

__all__ = ["PhantomParams", "render", "render_clip", "sample_params"]
