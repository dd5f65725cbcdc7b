"""V-JEPA evaluation probes (attentive classifiers and regressors) -> our ProbeHead, where the shapes allow.

Native layout (src/models/attentive_pooler.py): a dict with `classifier` (V-JEPA) or `classifiers` (a list,
V-JEPA 2's and EchoJEPA's sweep of heads) holding `pooler.query_tokens` (1, Q, D),
`pooler.cross_attention_block.{norm1, xattn.q, xattn.kv, xattn.proj, norm2, mlp.fc1, mlp.fc2}`, optional
`pooler.blocks.N.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}`, and the output: `linear` (C, D)
(AttentiveClassifier) or `regressor` (EchoJEPA's AttentiveRegressor, which its LVEF probes are).

- pooler.blocks (a pooler of depth > 1; V-JEPA 2's evaluations and EchoJEPA's LVEF probes use depth 4):
  V-JEPA 2's AttentivePooler runs them as self-attention over the tokens before the query's cross-attention,
  and so does ProbeHead (its `blocks`, named as upstream's). V-JEPA's own pooler code ran them after the
  query, on the query alone, but as published it cannot build a pooler of depth > 1 (its _rescale_blocks
  calls enumerate(1, self.blocks)), so pooler.blocks are read in V-JEPA 2's order.
- xattn.proj: V-JEPA's CrossAttention has an output projection; V-JEPA 2's and EchoJEPA's have none (it is
  commented out there). A probe without one gets the identity, which changes no value.
- The key bias in xattn.kv is dropped: it adds the same amount to every score of a query, which softmax
  removes.

- Heads: the weights do not store how many heads the query's attention was split into. V-JEPA 2's and
  EchoJEPA's evaluations (a `classifiers` sweep) build the probe with classifier.num_heads, 16 unless their config
  says otherwise, whatever the encoder's (ViT-g 22, ViT-B 12); V-JEPA's (one `classifier`) with the encoder's. Both
  splits load without error and give another EF, so the count assumed is written among the conversion's notes.
- A sweep holds one classifier per learning rate and weight decay, none marked best: with more than one, the one
  to read is chosen by probe_index (the best on val in the evaluation's log), never taken as the first.

ProbeHead is one query and one output: other probes are refused. The native probe predicts whatever it was
trained on (EchoJEPA: EF z-scored), so ef_mean/ef_std (default 0, 1: raw output) turn it into EF %.
"""
from __future__ import annotations

import math

import torch

from model_zoo.convert.infer import block_count, check_overrides, load_checked, mlp_ratio, need, strip_prefixes
from model_zoo.probes import MAX_BLOCKS, ProbeHead

P = "pooler.cross_attention_block."
B = "pooler.blocks."                  # self-attention blocks before the query; ProbeHead's `blocks.`
OUTPUTS = ("linear", "regressor")     # AttentiveClassifier's output layer, EchoJEPA's AttentiveRegressor's
SWEEP_PROBE_HEADS = 16                # V-JEPA 2's evaluation: classifier.get("num_heads", 16); EchoJEPA's configs: 16


def check_ef_scale(ef_mean: float | None, ef_std: float | None) -> None:
    """The probe's EF scale, in % (ValueError otherwise): finite, std > 0, a mean that is an EF."""
    if ef_mean is None or ef_std is None:
        raise ValueError("a probe needs the EF mean and std of its training targets (--ef-mean, --ef-std; "
                         "0 and 1 for a probe that predicts EF % directly)")
    if not (math.isfinite(ef_mean) and math.isfinite(ef_std)) or ef_std <= 0 or not 0 <= ef_mean <= 100 or ef_std > 100:
        raise ValueError(f"EF mean {ef_mean} and std {ef_std} are not an EF scale in %: the mean lies in 0-100, the "
                         "std above 0 (0 and 1 for a probe that predicts EF % directly)")
    if 0 < ef_mean < 1.5 and ef_std < 1:
        raise ValueError(f"EF mean {ef_mean} and std {ef_std} look like EF as a fraction: give them in % "
                         f"({100 * ef_mean:g} and {100 * ef_std:g})")


def hf_classification(ckpt: dict) -> bool:
    """A Hugging Face VJEPA2ForVideoClassification state dict: its head (pooler.*, classifier.*) beside its encoder
    (vjepa2.*), which only the folder with its config.json reads (hf.classifier_head), not a V-JEPA probe."""
    return any(isinstance(k, str) and k.startswith("vjepa2.") for k in ckpt)


def is_probe(ckpt: dict) -> bool:
    return not hf_classification(ckpt) and ("classifier" in ckpt or "classifiers" in ckpt or any(
        k.endswith("pooler.query_tokens") for k in ckpt if isinstance(k, str)))


def classifier_state(ckpt: dict, index: int = 0) -> dict:
    """The chosen classifier's state dict, prefixes stripped."""
    if "classifiers" in ckpt:
        heads = ckpt["classifiers"]
        if not isinstance(heads, (list, tuple)):
            raise ValueError(f"the probe's 'classifiers' is a {type(heads).__name__}, not a list (V-JEPA 2's and "
                             "EchoJEPA's sweep of classifiers): not a probe EchoLens reads")
        if not 0 <= index < len(heads):
            raise ValueError(f"probe_index {index} out of range: the checkpoint holds {len(heads)} classifiers")
        return strip_prefixes(heads[index], f"the probe's classifiers[{index}]")
    if index:
        raise ValueError(f"probe_index {index}: the checkpoint holds one classifier, not a sweep; leave --probe-index out")
    what = "the probe's 'classifier'" if "classifier" in ckpt else "the probe"
    return strip_prefixes(ckpt.get("classifier", ckpt), what)


def query_tokens(state: dict) -> torch.Tensor:
    """The probe's pooler.query_tokens, refused by name unless 3-D as an attentive probe stores them (loading and the
    model list both read their count and width from it)."""
    query = need(state, "pooler.query_tokens", "attentive probe")
    if query.ndim != 3:
        raise ValueError(f"pooler.query_tokens has shape {tuple(query.shape)}, not (1, queries, width) as an "
                         "attentive probe stores it: not a probe EchoLens reads")
    return query


def check_blocks(probe: ProbeHead, ours: dict, hidden: int) -> None:
    """Refuse, by their native names, pooler.blocks tensors that are missing, unknown or shaped other than the
    probe's width and MLP (the cross-attention block's, as upstream builds them) need."""
    own = {k: v for k, v in probe.state_dict().items() if k.startswith("blocks.")}
    given = {k: v for k, v in ours.items() if k.startswith("blocks.")}
    native = lambda k: "pooler." + k                                                   # noqa: E731
    wrong = [f"{native(k)} {tuple(v.shape)}, expected {tuple(own[k].shape)}"
             for k, v in given.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    wrong += [f"{native(k)} missing" for k in own if k not in given]
    wrong += [f"{native(k)} unknown" for k in given if k not in own]
    if wrong:
        more = " ..." if len(wrong) > 5 else ""
        raise ValueError(f"attentive probe: its self-attention blocks (pooler.blocks) do not fit a {probe.dim}-wide "
                         f"probe with a {hidden}-wide MLP: " + "; ".join(wrong[:5]) + more)


def convert(ckpt: dict, heads: int | None = None, overrides: dict | None = None) -> tuple[ProbeHead, dict]:
    """(ProbeHead in eval mode, info with 'notes': what was assumed). heads: the encoder's head count, which V-JEPA's
    evaluation (one `classifier`) gave its probe; a sweep's probe gets SWEEP_PROBE_HEADS (module docstring);
    overrides['probe_heads'] rules either. ef_mean / ef_std (checked as EF in %) and probe_index from overrides."""
    overrides = check_overrides(overrides)
    if "ef_mean" in overrides or "ef_std" in overrides:
        check_ef_scale(overrides.get("ef_mean"), overrides.get("ef_std"))
    if hf_classification(ckpt):
        raise ValueError("this probe is a Hugging Face VJEPA2ForVideoClassification state dict without its "
                         "config.json: put it in a folder beside the config.json it was saved with, and give the "
                         "folder as the probe")
    sweep = len(ckpt["classifiers"]) if isinstance(ckpt.get("classifiers"), (list, tuple)) else 0   # else refused below
    if sweep > 1 and "probe_index" not in overrides:
        raise ValueError(f"this probe file holds {sweep} classifiers (a V-JEPA 2 / EchoJEPA sweep of learning rates and "
                         "weight decays), none marked best: choose the one its evaluation log shows best on val with "
                         "--probe-index K (overrides={'probe_index': K}), counted from 0")
    state = classifier_state(ckpt, overrides.get("probe_index", 0))
    query = query_tokens(state)
    if "pooler.xattn.q.weight" in state or f"{P}xattn.q.weight" not in state:
        raise ValueError("this probe has no complete cross-attention block (norm, MLP); ProbeHead needs one")
    if query.shape[1] != 1:
        raise ValueError(f"pooler.query_tokens has {query.shape[1]} queries; ProbeHead has one")
    blocks = block_count(state, B)                       # refuses blocks not numbered 0..K-1
    if blocks > MAX_BLOCKS:
        raise ValueError(f"this probe runs {blocks} self-attention blocks before its query (pooler.blocks); "
                         f"ProbeHead runs at most {MAX_BLOCKS}")
    out = next((o for o in OUTPUTS if f"{o}.weight" in state), OUTPUTS[0])
    linear = need(state, f"{out}.weight", "attentive probe")
    if linear.ndim != 2:
        raise ValueError(f"{out}.weight has shape {tuple(linear.shape)}, not (outputs, width) as a probe's output "
                         "layer stores it: not a probe EchoLens reads")
    if linear.shape[0] != 1:
        raise ValueError(f"{out}.weight has {linear.shape[0]} outputs (a classifier); an EF probe has one")
    dim = query.shape[-1]
    notes = []
    if "probe_heads" in overrides:
        heads = overrides["probe_heads"]
    elif sweep:
        heads = SWEEP_PROBE_HEADS
        notes.append(f"{heads} probe heads assumed (V-JEPA 2's and EchoJEPA's evaluation default, whatever the "
                     "encoder's; --probe-heads N if it was trained with another)")
    if not heads:
        raise ValueError("the probe's head count is not stored: pass the encoder's, or overrides={'probe_heads': N}")
    if dim % heads:
        raise ValueError(f"a {dim}-wide probe cannot be split into {heads} attention heads: give the count it was "
                         "trained with, --probe-heads N (overrides={'probe_heads': N})")
    hidden = need(state, f"{P}mlp.fc1.weight", "attentive probe").shape[0]
    probe = ProbeHead(dim, heads, mlp_ratio(hidden, dim), overrides.get("ef_mean", 0.0), overrides.get("ef_std", 1.0),
                      blocks=blocks)
    kv_w, kv_b = need(state, f"{P}xattn.kv.weight", "attentive probe"), state.get(f"{P}xattn.kv.bias")
    if kv_w.shape != (2 * dim, dim):
        raise ValueError(f"{P}xattn.kv.weight: shape {tuple(kv_w.shape)}, expected {(2 * dim, dim)}")
    ours = {"query": query.reshape(1, dim), "k.weight": kv_w[:dim], "v.weight": kv_w[dim:],
            "v.bias": kv_b[dim:] if kv_b is not None else torch.zeros(dim),
            "head.weight": linear, "head.bias": need(state, f"{out}.bias", "attentive probe"),
            "ef_mean": probe.ef_mean, "ef_std": probe.ef_std}
    has_proj = any(k.startswith(f"{P}xattn.proj.") for k in state)
    if not has_proj:                                     # V-JEPA 2's cross-attention: no output projection
        ours.update({"proj.weight": torch.eye(dim), "proj.bias": torch.zeros(dim)})
    names = {"norm1": "norm_tokens", "xattn.q": "q", "xattn.proj": "proj", "norm2": "norm_query",
             "mlp.fc1": "mlp.0", "mlp.fc2": "mlp.2"}
    for key, value in state.items():
        if key.startswith(P) and not key.startswith(f"{P}xattn.kv."):
            name, kind = key[len(P):].rsplit(".", 1)
            ours[f"{names.get(name, name)}.{kind}"] = value
        elif key.startswith(B):
            ours["blocks." + key[len(B):]] = value          # ProbeBlock keeps upstream's names
    check_blocks(probe, ours, hidden)
    unexpected = [k for k in state if not k.startswith((P, B, "pooler.query_tokens", f"{out}."))]
    ours.update({k: state[k] for k in unexpected})
    report = load_checked(probe, ours, "attentive probe")
    probe.meta = {"kind": "attentive", "dim": dim, "heads": heads, "blocks": blocks, "xattn_proj": has_proj,
                  "source": "V-JEPA eval classifier" if out == "linear" else "EchoJEPA eval regressor",
                  "ef_mean": float(probe.ef_mean), "ef_std": float(probe.ef_std)}
    return probe.eval(), {"heads": heads, "blocks": blocks, **report, "notes": notes}


# Hugging Face's VJEPA2ForVideoClassification head, named as the native probe this module converts (its pooler is
# V-JEPA 2's AttentivePooler: self-attention layers over the tokens, then a cross-attention without an output
# projection); the encoder beside it (vjepa2.*) is not the probe's
HF_LAYER = {"layer_norm1": "norm1", "layer_norm2": "norm2", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"}


def from_hf_classifier(state: dict) -> dict:
    """A VJEPA2ForVideoClassification state dict's head (pooler.*, classifier.*) in the native probe's layout
    (pooler.query_tokens, pooler.cross_attention_block.*, pooler.blocks.N.*, linear.*): separate q / k / v
    projections fused as the native qkv and kv are. ValueError where the state holds no such head."""
    x = "pooler.cross_attention_layer."
    if "pooler.query_tokens" not in state or "classifier.weight" not in state:
        raise ValueError("no VJEPA2ForVideoClassification head (pooler.query_tokens, classifier.weight) in it")
    out = {"pooler.query_tokens": state["pooler.query_tokens"],
           "linear.weight": state["classifier.weight"], "linear.bias": state["classifier.bias"]}
    for kind in ("weight", "bias"):
        out[f"{P}xattn.q.{kind}"] = state[f"{x}cross_attn.q_proj.{kind}"]
        out[f"{P}xattn.kv.{kind}"] = torch.cat([state[f"{x}cross_attn.{p}_proj.{kind}"] for p in "kv"])
        for hf, native in HF_LAYER.items():
            out[f"{P}{native}.{kind}"] = state[f"{x}{hf}.{kind}"]
        for n in range(block_count(state, "pooler.self_attention_layers.")):
            s, b = f"pooler.self_attention_layers.{n}.", f"{B}{n}."
            out[f"{b}attn.qkv.{kind}"] = torch.cat([state[f"{s}self_attn.{p}_proj.{kind}"] for p in "qkv"])
            out[f"{b}attn.proj.{kind}"] = state[f"{s}self_attn.out_proj.{kind}"]
            for hf, native in HF_LAYER.items():
                out[f"{b}{native}.{kind}"] = state[f"{s}{hf}.{kind}"]
    return out
