"""Time one forward pass of a random ViT-L-sized VJEPA2 encoder (1024d, 24 layers, 16 heads, patch 16,
tubelet 2) at 224 px and 16, 8, 4 frames on the CPU; print a table with the GFLOPs of model_zoo.cost
and the GFLOP/s achieved, beside the machine's speed at a large matrix product and their ratio (which
calibrates cost.MATMUL_EFFICIENCY: the time estimates' guess before a model has run a pass).

    python bench/vit_large_forward.py --threads 2

Measured (2 threads; 304 M parameters, float32, sdpa): on a 2-core CPU shared with other jobs, 16 frames (1568
tokens, 1194 GFLOPs) 35.8 s, 8 frames (784, 536) 23.5 s, 4 frames (392, 253) 8.4 s (an earlier run there took
56.8 s and 37.3 s); on a quiet machine (2026-12-05) 4.6 s, 2.0 s and 1.0 s, 257-267 GFLOP/s, against 330 GFLOP/s
for the matrix product.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch
from transformers import VJEPA2Config
from transformers.models.vjepa2.modeling_vjepa2 import VJEPA2Encoder

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from model_zoo.cost import MATMUL_EFFICIENCY, forward_gflops, machine_speed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, nargs="+", default=[16, 8, 4])
    ap.add_argument("--size", type=int, default=224)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = VJEPA2Config(crop_size=args.size, frames_per_clip=max(args.frames), hidden_size=1024,
                          num_hidden_layers=24, num_attention_heads=16, patch_size=16, tubelet_size=2)
    config._attn_implementation = "sdpa"
    encoder = VJEPA2Encoder(config).eval()
    print(f"threads {args.threads}; ViT-L VJEPA2 encoder, {sum(p.numel() for p in encoder.parameters()) / 1e6:.0f} M "
          f"parameters, {args.size} px, float32, sdpa attention")
    print("| frames | tokens | GFLOPs | seconds | GFLOP/s |\n|---|---|---|---|---|")
    for frames in args.frames:
        x = torch.randn(1, frames, 3, args.size, args.size)
        with torch.no_grad():
            t0 = time.perf_counter()
            encoder(x)
            seconds = time.perf_counter() - t0
        tokens, gflops = forward_gflops(config, frames)
        print(f"| {frames} | {tokens} | {gflops:.0f} | {seconds:.1f} | {gflops / seconds:.0f} |", flush=True)
    product = machine_speed(args.threads) / MATMUL_EFFICIENCY
    print(f"matrix product (784, 1024) x (1024, 4096): {product:.0f} GFLOP/s; the ViT-L's speed over it is the "
          f"ratio cost.MATMUL_EFFICIENCY holds ({MATMUL_EFFICIENCY})")


if __name__ == "__main__":
    main()
