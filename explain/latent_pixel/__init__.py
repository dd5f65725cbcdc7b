"""Latent vs pixel prediction made visible: the token grid and each model's masks, the MAE's pixel
reconstruction, the JEPA's latent prediction, an anatomy read-out of the tokens, and the speckle
test (how much each encoder's embedding moves when only the speckle changes)."""
