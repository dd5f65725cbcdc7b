"""V-JEPA evaluation probes (attentive classifiers) -> our ProbeHead, where the shapes allow.

Native layout (V-JEPA evals, src/models/attentive_pooler.py `AttentiveClassifier`): a dict with
`classifier` (V-JEPA) or `classifiers` (a list, V-JEPA 2's sweep of heads) holding
`pooler.query_tokens` (1, Q, D), `pooler.cross_attention_block.{norm1, xattn.q, xattn.kv, xattn.proj,
norm2, mlp.fc1, mlp.fc2}`, optional `pooler.blocks.N.*` (self-attention before the query) and
`linear` (C, D). ProbeHead is exactly one query, one cross-attention block and one output: other
probes are refused. The key bias in xattn.kv is dropped: it adds the same amount to every score
of a query, which softmax removes. The native probe predicts whatever it was trained on
(EchoJEPA: EF z-scored), so ef_mean/ef_std (default 0, 1: raw output) turn it into EF %.
"""
from __future__ import annotations

import re

import torch

from model_zoo.convert.infer import check_overrides, load_checked, mlp_ratio, need, strip_prefixes
from model_zoo.probes import ProbeHead

P = "pooler.cross_attention_block."


def is_probe(ckpt: dict) -> bool:
    return "classifier" in ckpt or "classifiers" in ckpt or any(
        k.endswith("pooler.query_tokens") for k in ckpt if isinstance(k, str))


def classifier_state(ckpt: dict, index: int = 0) -> dict:
    """The chosen classifier's state dict, prefixes stripped."""
    if "classifiers" in ckpt:
        heads = ckpt["classifiers"]
        if not 0 <= index < len(heads):
            raise ValueError(f"probe_index {index} out of range: the checkpoint holds {len(heads)} classifiers")
        return strip_prefixes(heads[index])
    if index:
        raise ValueError(f"probe_index {index}: the checkpoint holds one classifier, not a sweep; leave --probe-index out")
    return strip_prefixes(ckpt.get("classifier", ckpt))


def convert(ckpt: dict, heads: int | None = None, overrides: dict | None = None) -> tuple[ProbeHead, dict]:
    """(ProbeHead in eval mode, info). heads: the encoder's head count (V-JEPA evals use it) unless
    overrides['probe_heads'] says otherwise; ef_mean / ef_std / probe_index from overrides."""
    overrides = check_overrides(overrides)
    state = classifier_state(ckpt, overrides.get("probe_index", 0))
    query = need(state, "pooler.query_tokens", "attentive probe")
    if "pooler.xattn.q.weight" in state or f"{P}xattn.q.weight" not in state:
        raise ValueError("this probe has no complete cross-attention block (norm, MLP); ProbeHead needs one")
    if query.shape[1] != 1:
        raise ValueError(f"pooler.query_tokens has {query.shape[1]} queries; ProbeHead has one")
    extra = {int(m.group(1)) for k in state if (m := re.match(r"pooler\.blocks\.(\d+)\.", k))}
    if extra:
        raise ValueError(f"this probe runs {len(extra)} self-attention block(s) before its query (pooler.blocks); "
                         "ProbeHead has only the cross-attention block")
    linear = need(state, "linear.weight", "attentive probe")
    if linear.shape[0] != 1:
        raise ValueError(f"linear.weight has {linear.shape[0]} outputs (a classifier); an EF probe has one")
    dim = query.shape[-1]
    heads = overrides.get("probe_heads", heads)
    if not heads:
        raise ValueError("the probe's head count is not stored: pass the encoder's, or overrides={'probe_heads': N}")
    hidden = need(state, f"{P}mlp.fc1.weight", "attentive probe").shape[0]
    probe = ProbeHead(dim, heads, mlp_ratio(hidden, dim), overrides.get("ef_mean", 0.0), overrides.get("ef_std", 1.0))
    kv_w, kv_b = need(state, f"{P}xattn.kv.weight", "attentive probe"), state.get(f"{P}xattn.kv.bias")
    if kv_w.shape != (2 * dim, dim):
        raise ValueError(f"{P}xattn.kv.weight: shape {tuple(kv_w.shape)}, expected {(2 * dim, dim)}")
    ours = {"query": query.reshape(1, dim), "k.weight": kv_w[:dim], "v.weight": kv_w[dim:],
            "v.bias": kv_b[dim:] if kv_b is not None else torch.zeros(dim),
            "head.weight": linear, "head.bias": need(state, "linear.bias", "attentive probe"),
            "ef_mean": probe.ef_mean, "ef_std": probe.ef_std}
    names = {"norm1": "norm_tokens", "xattn.q": "q", "xattn.proj": "proj", "norm2": "norm_query",
             "mlp.fc1": "mlp.0", "mlp.fc2": "mlp.2"}
    for key, value in state.items():
        if key.startswith(P) and not key.startswith(f"{P}xattn.kv."):
            name, kind = key[len(P):].rsplit(".", 1)
            ours[f"{names.get(name, name)}.{kind}"] = value
    unexpected = [k for k in state if not k.startswith((P, "pooler.query_tokens", "linear."))]
    ours.update({k: state[k] for k in unexpected})
    report = load_checked(probe, ours, "attentive probe")
    probe.meta = {"kind": "attentive", "dim": dim, "heads": heads, "source": "V-JEPA eval classifier",
                  "ef_mean": float(probe.ef_mean), "ef_std": float(probe.ef_std)}
    return probe.eval(), {"heads": heads, **report}
