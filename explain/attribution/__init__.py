"""Attributions to input pixels, (B, T, C, H, W) like the input, one method per module: Captum
Occlusion (one-tubelet window), FeatureAblation (tubelet feature mask), IntegratedGradients (with
convergence delta) and NoiseTunnel over it, all of the EF prediction from a black reference
(baseline.black_like); and pretext, the JEPA latent / MAE pixel pretraining loss by gradient x input."""
