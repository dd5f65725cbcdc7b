"""EchoLens model zoo: JEPA and MAE video encoders behind one interface, their pretraining and registry.

    import model_zoo
    model_zoo.list_models()                 # shipped models (+ extra_dirs=...)
    m = model_zoo.load("jepa-small")        # or a folder path; EncoderWrapper
    m.tokens(x), m.attentions(x, fuse_heads="mean"), m.pooled(x), m.grid
"""
from model_zoo.registry import list_models
from model_zoo.wrapper import EncoderWrapper, load

__all__ = ["EncoderWrapper", "list_models", "load"]
