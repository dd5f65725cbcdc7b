"""Small synthetic clips, DICOM files and tracings the tests build for themselves (no network)."""
from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import convert_color_space
from pydicom.uid import (ExplicitVRLittleEndian,
                         UltrasoundMultiFrameImageStorage, generate_uid)

T, H, W = 6, 24, 32
PATIENT = {"PatientName": "Doe^Jane", "PatientID": "PID-97531", "PatientBirthDate": "19610203",
           "InstitutionName": "St Elsewhere Hospital", "ReferringPhysicianName": "House^Greg",
           "OperatorsName": "Sono^Sam", "PatientAddress": "1 Main Street"}


def image_bytes(frame: np.ndarray, fmt: str = "PNG", **options) -> bytes:
    """One frame encoded as an image file's bytes (PNG, or JPEG with quality=...)."""
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def frames_zip(path, members: dict):
    """A ZIP at `path` holding `members` {name: bytes, text or a frame array (written as PNG)}; -> path."""
    import zipfile
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in members.items():
            archive.writestr(name, image_bytes(value) if isinstance(value, np.ndarray) else value)
    return path


def gray_clip(t=T, h=H, w=W) -> np.ndarray:
    """(t, h, w) uint8: a smooth moving gradient, friendly to lossy codecs."""
    y, x = np.mgrid[:h, :w]
    return np.stack([(40 + 3 * x + 2 * y + 8 * k) % 200 + 20 for k in range(t)]).astype(np.uint8)


def colour_clip(t=T, h=H, w=W) -> np.ndarray:
    """(t, h, w, 3) uint8: grey background with a red and a blue block (Doppler-like)."""
    frames = np.repeat(gray_clip(t, h, w)[..., None], 3, axis=-1)
    frames[:, 4:12, 4:12] = (200, 30, 30)
    frames[:, 12:20, 18:28] = (30, 40, 210)
    return frames


def dicom_file(path, pixel_data, *, n_frames=T, rows=H, cols=W, samples=1,
               photometric="MONOCHROME2", bits=8, syntax=ExplicitVRLittleEndian, **fields):
    """Write a multi-frame ultrasound DICOM carrying fake patient data; return its path."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    for keyword, value in {**PATIENT, **fields}.items():
        setattr(ds, keyword, value)
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, cols, n_frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = samples, photometric
    if samples == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 0
    if pixel_data is not None:
        ds.PixelData = pixel_data
        if syntax.is_compressed:
            ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path


def jpeg_frames(frames: np.ndarray) -> bytes:
    """Encapsulated JPEG baseline frames; colour as YCbCr 4:2:2 (DICOM's YBR_FULL_422)."""
    encoded = []
    for frame in frames:
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, "JPEG", quality=95, subsampling=1)
        encoded.append(buffer.getvalue())
    return encapsulate(encoded)


def ybr_422(frames: np.ndarray) -> bytes:
    """(T, H, W, 3) RGB -> native YBR_FULL_422 bytes: Y0 Y1 Cb Cr per pair of pixels."""
    ybr = convert_color_space(frames, "RGB", "YBR_FULL").astype(np.int32)
    packed = np.empty(frames.shape[:2] + (frames.shape[2] // 2, 4), np.uint8)
    packed[..., 0], packed[..., 1] = ybr[:, :, 0::2, 0], ybr[:, :, 1::2, 0]
    packed[..., 2] = (ybr[:, :, 0::2, 1] + ybr[:, :, 1::2, 1]) // 2
    packed[..., 3] = (ybr[:, :, 0::2, 2] + ybr[:, :, 1::2, 2]) // 2
    return packed.tobytes()


def write_with_pyav(path, frames: np.ndarray, fmt: str, codec: str, pix_fmt: str, fps=25):
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="gray")))
        container.mux(stream.encode())
    return path


def write_with_opencv(path, clip, fourcc: str):
    """The clip re-encoded as a user's OpenCV script would (its VideoWriter at the codec's default quality)."""
    import cv2
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), clip.fps, (clip.width, clip.height))
    for frame in clip.frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR if clip.is_rgb else cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def close(a: np.ndarray, b: np.ndarray, tol: float) -> bool:
    return a.shape == b.shape and np.abs(a.astype(int) - b).mean() < tol


# --- video -----------------------------------------------------------------------------------


def lv_tracing(half_width: float, top=20.0, bottom=90.0, centre=56.0, chords=20) -> np.ndarray:
    """(chords + 1, 4) EchoNet-style segments of an elliptical LV: long axis, then chords."""
    y = np.linspace(top, bottom, chords + 2)[1:-1]
    half = half_width * np.sqrt(1 - ((y - (top + bottom) / 2) / ((bottom - top) / 2)) ** 2)
    rows = np.stack([centre - half, y, centre + half, y], axis=1)
    return np.vstack([[centre, top, centre, bottom], rows])


# --- models ----------------------------------------------------------------------------------


def tiny_wrapper(family: str, seed: int = 0):
    """An EncoderWrapper over a random 'smoke' JEPA or MAE (grid (4, 4, 4), 48-d, 2 layers, 3 heads,
    input (B, 8, 3, 64, 64)), on the CPU, without saving it."""
    import torch

    from model_zoo.jepa import JEPA
    from model_zoo.mae import MAE
    from model_zoo.recipes import get_recipe
    from model_zoo.wrapper import EncoderWrapper

    torch.manual_seed(seed)
    model = (JEPA if family == "jepa" else MAE)(get_recipe("smoke")).eval()
    context = model.context_encoder if family == "jepa" else None
    return EncoderWrapper(family, model.net, context, name=f"{family}-tiny", device="cpu")


def tiny_probe(dim: int = 48, seed: int = 0):
    """A random attentive EF probe (model_zoo.probes.ProbeHead) for tiny_wrapper's tokens, EF ~ 55 +- 12."""
    import torch

    from model_zoo.probes import ProbeHead

    torch.manual_seed(seed)
    return ProbeHead(dim, 3, ef_mean=55.0, ef_std=12.0).eval()


# --- tiny models -------------------------------------------------------------------------------


def smoke_wrappers(seed: int = 0):
    """(JEPA, MAE) EncoderWrappers of the 'smoke' recipe (8 frames x 64 px, grid (4, 4, 4), 48-d),
    randomly initialised with `seed`, on the CPU, with a card carrying the recipe's mask settings."""
    import torch

    from model_zoo.jepa import JEPA
    from model_zoo.mae import MAE
    from model_zoo.recipes import get_recipe
    from model_zoo.wrapper import EncoderWrapper

    recipe = get_recipe("smoke")
    torch.manual_seed(seed)
    jepa, mae = JEPA(recipe).eval(), MAE(recipe).eval()
    card = {"recipe_settings": recipe.to_dict()}
    return (EncoderWrapper("jepa", jepa.net, jepa.context_encoder, name="jepa-smoke", card=card, device="cpu"),
            EncoderWrapper("mae", mae.net, name="mae-smoke", card=card, device="cpu"))


# --- native checkpoints (tiny, with the key names the public training code writes) -------------------


def _vit_blocks(prefix: str, width: int, depth: int, g, qkv_bias: bool = True, split_bias: bool = False) -> dict:
    """Random timm-style ViT blocks: norm1, attn.qkv (+ bias, or q_bias/v_bias), attn.proj, norm2, mlp."""
    import torch
    r = lambda *s: torch.randn(*s, generator=g) * 0.2                               # noqa: E731
    state = {}
    for i in range(depth):
        b = f"{prefix}{i}."
        state.update({b + "norm1.weight": 1 + r(width), b + "norm1.bias": r(width),
                      b + "attn.qkv.weight": r(3 * width, width),
                      b + "attn.proj.weight": r(width, width), b + "attn.proj.bias": r(width),
                      b + "norm2.weight": 1 + r(width), b + "norm2.bias": r(width),
                      b + "mlp.fc1.weight": r(4 * width, width), b + "mlp.fc1.bias": r(4 * width),
                      b + "mlp.fc2.weight": r(width, 4 * width), b + "mlp.fc2.bias": r(width)})
        if split_bias:
            state.update({b + "attn.q_bias": r(width), b + "attn.v_bias": r(width)})
        elif qkv_bias:
            state[b + "attn.qkv.bias"] = r(3 * width)
    return state


def vjepa2_encoder_state(seed=0, width=32, depth=2, tubelet=2, patch=16) -> dict:
    """A V-JEPA 2 (RoPE) encoder's native keys, without prefixes."""
    import torch
    g = torch.Generator().manual_seed(seed)
    state = {"patch_embed.proj.weight": torch.randn(width, 3, tubelet, patch, patch, generator=g) * 0.05,
             "patch_embed.proj.bias": torch.randn(width, generator=g) * 0.1,
             "norm.weight": 1 + torch.randn(width, generator=g) * 0.1, "norm.bias": torch.randn(width, generator=g) * 0.1}
    state.update(_vit_blocks("blocks.", width, depth, g))
    return state


def vjepa2_predictor_state(seed=1, width=32, pred=16, depth=1, mask_tokens=2) -> dict:
    """A V-JEPA 2 predictor's native keys (RoPE, mask tokens), without prefixes."""
    import torch
    g = torch.Generator().manual_seed(seed)
    state = {"predictor_embed.weight": torch.randn(pred, width, generator=g) * 0.2,
             "predictor_embed.bias": torch.randn(pred, generator=g) * 0.1,
             "predictor_norm.weight": 1 + torch.randn(pred, generator=g) * 0.1,
             "predictor_norm.bias": torch.randn(pred, generator=g) * 0.1,
             "predictor_proj.weight": torch.randn(width, pred, generator=g) * 0.2,
             "predictor_proj.bias": torch.randn(width, generator=g) * 0.1}
    state.update({f"mask_tokens.{k}": torch.randn(1, 1, pred, generator=g) for k in range(mask_tokens)})
    state.update(_vit_blocks("predictor_blocks.", pred, depth, g))
    return state


def vjepa2_checkpoint(predictor=True, **kw) -> dict:
    """What V-JEPA 2's app/vjepa/train.py saves: DDP + MultiSeqWrapper prefixes, optimiser state, epoch."""
    import torch
    prefixed = lambda s: {f"module.backbone.{k}": v for k, v in s.items()}          # noqa: E731
    ckpt = {"encoder": prefixed(vjepa2_encoder_state(seed=10, **kw)),
            "target_encoder": prefixed(vjepa2_encoder_state(seed=0, **kw)),
            "opt": {"state": {0: {"step": torch.tensor(3.0)}}, "param_groups": [{"lr": 1e-4, "params": [0]}]},
            "scaler": None, "epoch": 3, "loss": 0.5, "batch_size": 2, "world_size": 1, "lr": 1e-4}
    if predictor:
        ckpt["predictor"] = prefixed(vjepa2_predictor_state(width=kw.get("width", 32)))
    return ckpt


def videomae_checkpoint(seed=0, width=32, depth=2, dec=16, dec_depth=1, tubelet=2, patch=16, finetuned=False) -> dict:
    """An MCG-NJU VideoMAE checkpoint: pretraining ({'model': encoder.*, decoder.*}) or fine-tuned
    ({'module': blocks.*, fc_norm, head})."""
    import torch
    g = torch.Generator().manual_seed(seed)
    enc = {"patch_embed.proj.weight": torch.randn(width, 3, tubelet, patch, patch, generator=g) * 0.05,
           "patch_embed.proj.bias": torch.randn(width, generator=g) * 0.1}
    enc.update(_vit_blocks("blocks.", width, depth, g, split_bias=True))
    if finetuned:
        enc.update({"fc_norm.weight": torch.ones(width), "fc_norm.bias": torch.zeros(width),
                    "head.weight": torch.randn(5, width, generator=g), "head.bias": torch.zeros(5)})
        return {"module": enc, "epoch": 1}
    enc.update({"norm.weight": 1 + torch.randn(width, generator=g) * 0.1, "norm.bias": torch.randn(width, generator=g) * 0.1})
    state = {f"encoder.{k}": v for k, v in enc.items()}
    state.update({"encoder_to_decoder.weight": torch.randn(dec, width, generator=g) * 0.2,
                  "mask_token": torch.randn(1, 1, dec, generator=g),
                  "decoder.norm.weight": torch.ones(dec), "decoder.norm.bias": torch.zeros(dec),
                  "decoder.head.weight": torch.randn(3 * tubelet * patch * patch, dec, generator=g) * 0.1,
                  "decoder.head.bias": torch.zeros(3 * tubelet * patch * patch)})
    state.update(_vit_blocks("decoder.blocks.", dec, dec_depth, g, split_bias=True))
    return {"model": state, "epoch": 1}


def vjepa_probe_checkpoint(seed=0, width=32, outputs=1, extra_blocks=0, many=False) -> dict:
    """A V-JEPA eval attentive classifier ('classifier', or 'classifiers' list), DDP-prefixed."""
    import torch
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g) * 0.3                               # noqa: E731
    p = "pooler.cross_attention_block."
    state = {"pooler.query_tokens": r(1, 1, width),
             p + "norm1.weight": 1 + r(width), p + "norm1.bias": r(width),
             p + "xattn.q.weight": r(width, width), p + "xattn.q.bias": r(width),
             p + "xattn.kv.weight": r(2 * width, width), p + "xattn.kv.bias": r(2 * width),
             p + "xattn.proj.weight": r(width, width), p + "xattn.proj.bias": r(width),
             p + "norm2.weight": 1 + r(width), p + "norm2.bias": r(width),
             p + "mlp.fc1.weight": r(4 * width, width), p + "mlp.fc1.bias": r(4 * width),
             p + "mlp.fc2.weight": r(width, 4 * width), p + "mlp.fc2.bias": r(width),
             "linear.weight": r(outputs, width), "linear.bias": r(outputs)}
    state.update(_vit_blocks("pooler.blocks.", width, extra_blocks, g))
    state = {f"module.{k}": v for k, v in state.items()}
    return {"classifiers": [state, state]} if many else {"classifier": state, "epoch": 2}
