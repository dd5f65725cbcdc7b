"""EchoLens interpretability: where the models look, how their embeddings move, what they keep. No Gradio here.

Where the models look (one job per module):
    attention_maps   clip_map(wrapper, x, method, probe=None, **params) -> TokenMap (T', H', W'): the app's entry
    rollout          attention rollout without a CLS token (head fusion, discard ratio, start layer, identity)
    readout          rollout -> one map: probe query, column mean, or a query token
    paper_attention  the EchoJEPA figure mode: one layer, most peaked head, received/given attention
    attribution/     Captum on the EF prediction (occlusion, feature_ablation, integrated_gradients,
                     noise_tunnel) and the pretraining losses (pretext); baseline = a black clip
    ef_forward       differentiable clip -> EF through encoder + probe
    maps             tokens <-> frames: to_frames (T', H', W') -> (T, H, W) in [0, 1], tubelet ids
    overlay          heat map on the grayscale frames with a colour bar -> H.264 MP4 / PNG strip
    focus            anatomy focus share vs chance, pointing games (phantom labels, EchoNet tracings)
    faithfulness     deletion / insertion curves against random orders
    focus_report     python -m explain.focus_report --n N --out DIR: JEPA vs MAE per method on phantom test clips
Also: trajectory/ (embedding trajectories through a beat), latent_pixel/ (latent vs pixel teaching
views), analysis/ (one clip through a model pair: the report the app shows).
Attention capture itself lives in model_zoo.attention (AttentionRecorder).
"""
