"""Training recipes: every size, schedule and data setting of a pretraining run, by name.

One frozen dataclass so a run's whole setting is written into its model card, and both methods
read the same fields for everything they share (encoder, batch, steps, data, augmentation).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from echo.phantom.seeds import PRETRAIN_FROM


@dataclass(frozen=True)
class Recipe:
    name: str
    # Encoder, shared by both methods: (frames // tubelet) x (size // patch)^2 tokens
    frames: int = 16
    size: int = 112
    patch: int = 16
    tubelet: int = 2
    hidden: int = 192
    depth: int = 6
    heads: int = 3
    # JEPA predictor (narrow, V-JEPA style) and MAE decoder (VideoMAE: 4 blocks, half width)
    pred_hidden: int = 96
    pred_depth: int = 4
    pred_heads: int = 3
    dec_hidden: int = 96
    dec_depth: int = 4
    dec_heads: int = 3
    # Optimisation, shared: AdamW, linear warm-up then cosine to final_lr_frac * peak
    batch: int = 16
    steps: int = 1500
    warmup_frac: float = 0.1
    final_lr_frac: float = 0.01
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.95)
    # Keep the patch embedding at its random initialisation (MoCo v3's fix for unstable ViT
    # self-supervision, Chen et al. 2021): a random projection keeps what the pixels hold, which the
    # trained one lost (layer probes: EF MAE 7.7 after a trained patch embedding vs 7.0 after a random one)
    freeze_patch_embed: bool = False
    # Peak learning rates, equal for both (3.75e-4). MAE keeps VideoMAE's rule, lr = blr * batch / 256,
    # but VideoMAE's blr 1.5e-4 gives 9.4e-6 at batch 16, which lags badly in a short run (150-step
    # probe on the phantom: loss 0.862 vs 0.769 at 3.75e-4), so blr is 40x VideoMAE's.
    jepa_lr: float = 3.75e-4          # V-JEPA style: absolute peak learning rate
    mae_blr: float = 6e-3             # peak lr = mae_blr * batch / 256
    # JEPA: EMA momentum rises linearly; multi-block masks (n_blocks, spatial scale) per generator
    ema: tuple[float, float] = (0.996, 1.0)
    jepa_masks: tuple[tuple[int, float], ...] = ((8, 0.15), (2, 0.7))
    jepa_aspect: tuple[float, float] = (0.75, 1.5)
    # JEPA: one more mask generator hiding a contiguous span of this share of the time slots (0 = none)
    jepa_time_span: float = 0.0
    # JEPA: subtract from the layer-normed targets their batch mean at each token position, so what
    # every clip shares at a place (the sector's shape, the position) is not worth predicting and the
    # loss is paid on what differs between clips (anatomy, motion)
    jepa_center_targets: bool = False
    # JEPA: targets plus this weight times their deviation from the same place's mean over the clip's time
    # slots (model_zoo.jepa.emphasise_beat), so what changes over the beat at a place (the walls moving in
    # and out between end-diastole and end-systole, and speckle decorrelating) weighs more in the loss than
    # what stays (the static anatomy every MAE kept while it lost EF). 0 = the targets as they are.
    jepa_motion_weight: float = 0.0
    # Acquisition jitter (0 = none, at most 1): each view of a pretraining clip gets its own extra depth
    # attenuation (echo.degrade's, severity uniform in [0, acq_jitter]) and gain cut (severity uniform in
    # [0, acq_jitter / 2]) inside the clean clip's fan, the natural spread of gain and attenuation real
    # acquisitions have. JEPA: context and targets come from two draws, so the targets are predicted
    # from another acquisition of the same heart (invariance past the patch embedding, as BYOL learns
    # it); MAE: one draw, its input and its target alike (with acq_clean_targets, two: below).
    acq_jitter: float = 0.0
    # With acq_jitter: each jittered view also gets an acoustic shadow (echo.degrade's: a Gaussian darkening,
    # centre in U(0.2, 0.8) of width and height, severity uniform in [0, acq_shadow]), as ribs and lung cast
    # in real acquisitions; 0 = none. Both families read it alike (MAE: its one view; JEPA: both views; with
    # acq_clean_targets, only the view the encoder reads).
    acq_shadow: float = 0.0
    # With acq_jitter: the target view is the clean acquisition (no extra attenuation, gain cut or shadow),
    # only the view the encoder reads is jittered, so the targets keep all the clean clip holds and the
    # encoder must see through the acquisition to predict them. JEPA: the context view (BYOL's asymmetric
    # views); MAE: its input, the clean clip's pixels its targets (a denoising MAE, the pixel twin)
    acq_clean_targets: bool = False
    # JEPA only, with acq_jitter: the target view blurred by a Gaussian of this many input pixels before the
    # gain normalisation (model_zoo.gain_norm.blur_frames), the context view left sharp; 0 = off. Speckle is
    # finer than anatomy (point spread 1.1-1.9 px at 112 px), so blurred targets keep walls and cavities and
    # lose most of the grain whose decorrelation no hidden place can predict: on 12 training clips the share
    # of a frame-to-frame change that the speckle-free render explains is 49% sharp and 67-69% at 1.5-4 px
    # (python -m model_zoo.experiments.speckle_share)
    jepa_target_blur: float = 0.0
    # Local gain normalisation of every clip the encoders read, in pretraining and after (model_zoo.gain_norm):
    # each fan pixel divided by the fan's local mean brightness over a Gaussian of this share of the frame
    # width, so smooth gain fields (depth attenuation, shadows, gain cuts) cancel; 0 = off
    input_gain_norm: float = 0.0
    # With input_gain_norm: the floor added to the local mean before the division (model_zoo.gain_norm.EPS, on the
    # [0, 1] scale), so near-black blood is not blown up to noise. A lower floor cancels more of a deep gain field:
    # tissue at 0.3 darkened to 0.06 by the benchmark's strong shadow keeps 75% of its normalised level at 0.02,
    # 92% at 0.005 (raw pixels on val, python -m model_zoo.experiments.degraded_probe --pixel-gain-eps)
    input_gain_eps: float = 0.02
    # JEPA: targets are the mean of the target encoder's last `jepa_target_layers` block outputs, each
    # layer-normed (data2vec's top-K targets, Baevski et al. 2022), not the last block's alone: the
    # per-layer probes found EF kept through the middle blocks and dropped by the last, so targets that
    # carry the middle blocks ask the encoder to keep what they hold. 1 = V-JEPA's last-layer targets.
    jepa_target_layers: int = 1
    # JEPA: VICReg's variance term (Bardes et al. 2022), as C-JEPA adds it to I-JEPA (Mo & Tong 2024), on
    # clip embeddings: weight * mean over dims of relu(gamma - std over the batch), the clip embedding being
    # the mean of the context encoder's output tokens after a parameter-free layer norm (so a larger final
    # norm gain cannot pay it), over every token of the clip (one more context pass, about +80% a step; on
    # each clip's own context, or one context shared by the batch, the spread was paid by where the context
    # lay). Clips that stay apart keep what tells them apart, EF among it: jitter had narrowed the target
    # encoder's clip std, the same measure, from 0.21 to 0.12 and lost EF with it. weight 0 = V-JEPA's
    # loss alone.
    jepa_var_weight: float = 0.0
    jepa_var_gamma: float = 0.2
    # JEPA: weight of an invariance term on the tokens the context encoder sees: L1 between its output for the
    # view it reads (with acq_clean_targets: shadowed, attenuated) and the target encoder's output for the
    # targets' view (the clean clip) at the same places, each after the encoder's final norm. The probe reads
    # the target encoder, an average of the context encoder, on degraded clips; the masked-token loss asks the
    # context encoder only for features from which the predictor can see through a shadow, this asks the
    # encoder itself to map a shadowed place to the clean one (BYOL's view invariance without a predictor, so
    # it can pull toward one constant: the collapse check watches). 0 = off.
    jepa_invariance_weight: float = 0.0
    # JEPA: which encoder reads clips downstream (probes, attention, trajectories): 'target' (V-JEPA's EMA
    # target encoder) or 'context' (the one trained by gradient). 'context' is for a fixed target (ema
    # (1, 1)): the target then stays its random draw and only the context encoder learns (dBOT's finding
    # that a randomly initialised teacher is a sound distillation target, Liu et al. 2022)
    jepa_readout: str = "target"
    # MAE: tube masking ratio
    mae_mask_ratio: float = 0.9
    # MAE: VideoMAE's per-patch normalised pixel targets (each hidden patch's mean and std taken out before
    # the MSE); False = the plain pixels (in [0, 1]) as targets, so brightness and contrast are reconstructed too
    mae_norm_pix_loss: bool = True
    # Data: phantom clips on the fly; clip seeds data_seed .. data_seed + n_clips - 1 (keep evaluation
    # seeds out of this range: echo.phantom.seeds). A multiple of batch * workers keeps each worker's clip cache disjoint.
    population: str = "adult"
    data_seed: int = PRETRAIN_FROM
    n_clips: int = 4096
    crop_scale: tuple[float, float] = (0.5, 1.0)
    crop_ratio: tuple[float, float] = (0.9, 1.1)
    workers: int = 1
    # Run
    seed: int = 0
    ckpt_every: int = 100

    @property
    def mae_lr(self) -> float:
        return self.mae_blr * self.batch / 256

    def to_dict(self) -> dict:
        """Every field, JSON-native (tuples as lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


RECIPES: dict[str, Recipe] = {
    # Tiny model, tiny clips, a few steps: exercises the whole pipeline in a test.
    "smoke": Recipe(
        name="smoke", frames=8, size=64, hidden=48, depth=2, heads=3,
        pred_hidden=24, pred_depth=1, pred_heads=3, dec_hidden=24, dec_depth=1, dec_heads=3,
        batch=4, steps=4, n_clips=8, workers=0, ckpt_every=2,
    ),
    # The shipped pair: 3.45 M (JEPA) / 3.58 M (MAE) parameters, 1500 steps of 16 clips (24k clips
    # seen, 4096 distinct). Measured on the 2-core CPU, s/step JEPA | MAE: 1.13 | 0.58 with 2 threads,
    # 1.91 | 1.02 with 1 thread; rendering 0.067 s a clip (the first pass over the pool).
    # About 32 | 18 min run one after the other, about 50 | 25 min run side by side on a core each.
    "small": Recipe(name="small"),
    # The shipped small pair's pretrained tokens varied little over time (they discarded the wall
    # motion EF needs). This JEPA adds a third mask generator that hides whole time spans (3 of 8 time
    # slots), so the hidden tokens can only be predicted from the motion around them.
    "small_timespan": Recipe(name="small_timespan", jepa_time_span=0.375),
    # The same question asked harder: only time-span masks (half the time slots hidden), no spatial tubes.
    "small_timespan_only": Recipe(name="small_timespan_only", jepa_masks=(), jepa_time_span=0.5),
    # Per-layer probes (model_zoo/experiments/layer_probe.py) showed pretraining removes EF from the
    # deeper layers, and the targets' spread across clips is ~0.1 of their spread across tokens: the
    # targets are mostly position, which the predictor gets for free. Centred targets remove that part.
    "small_timespan_only_centered": Recipe(name="small_timespan_only_centered", jepa_masks=(),
                                           jepa_time_span=0.5, jepa_center_targets=True),
    # Centring alone, on the shipped recipe's multi-block masks (no time spans): which of the two helps.
    "small_centered": Recipe(name="small_centered", jepa_center_targets=True),
    # small_centered with the patch embedding frozen at its random initialisation (acting on the layer probes)
    "small_centered_frozen_patch": Recipe(name="small_centered_frozen_patch", jepa_center_targets=True,
                                          freeze_patch_embed=True),
    # The shipped recipe with the patch embedding frozen: the MAE's side of that comparison
    "small_frozen_patch": Recipe(name="small_frozen_patch", freeze_patch_embed=True),
    # small_centered_frozen_patch learning from two acquisitions of each clip (context and targets
    # attenuated and dimmed differently): the frozen patch embedding kept EF but also every intensity
    # change; this asks the blocks after it to discard the acquisition
    "small_centered_frozen_patch_jitter": Recipe(name="small_centered_frozen_patch_jitter", jepa_center_targets=True,
                                                 freeze_patch_embed=True, acq_jitter=1.0),
    # Two acquisitions made the targets drop what changes between acquisitions, and EF went with it
    # (layer probes: lost in the last block). Here only the context is jittered; targets see the clean clip.
    "small_centered_frozen_patch_jitter_clean_targets": Recipe(
        name="small_centered_frozen_patch_jitter_clean_targets", jepa_center_targets=True,
        freeze_patch_embed=True, acq_jitter=1.0, acq_clean_targets=True),
    # Two acquisitions with milder jitter (half the attenuation and gain cut): less pressure to discard
    # what changes between acquisitions, so perhaps less EF discarded with it
    "small_centered_frozen_patch_jitter_mild": Recipe(name="small_centered_frozen_patch_jitter_mild",
                                                      jepa_center_targets=True, freeze_patch_embed=True,
                                                      acq_jitter=0.5),
    # Two acquisitions with data2vec's top-K targets (the last 3 of 6 blocks averaged): the invariance
    # asked of the last block alone took EF with it; targets that carry the middle blocks keep it asked for
    "small_centered_frozen_patch_jitter_top3": Recipe(name="small_centered_frozen_patch_jitter_top3",
                                                      jepa_center_targets=True, freeze_patch_embed=True,
                                                      acq_jitter=1.0, jepa_target_layers=3),
    # top3 kept more EF under degradation than last-layer targets (benchmark mean MAE 9.38 vs 9.89): all
    # six blocks averaged, data2vec's direction (more blocks, more of what the early layers keep)
    "small_centered_frozen_patch_jitter_top6": Recipe(name="small_centered_frozen_patch_jitter_top6",
                                                      jepa_center_targets=True, freeze_patch_embed=True,
                                                      acq_jitter=1.0, jepa_target_layers=6),
    # top3 with half the jitter: mild kept the speckle invariance (ratio 0.107 vs 0.216) and top3 kept EF;
    # whether the two together keep both
    "small_centered_frozen_patch_jitter_top3_mild": Recipe(name="small_centered_frozen_patch_jitter_top3_mild",
                                                           jepa_center_targets=True, freeze_patch_embed=True,
                                                           acq_jitter=0.5, jepa_target_layers=3),
    # top3 with a variance floor on clip embeddings (C-JEPA's VICReg term): invariance to the acquisition
    # without letting clips drift together, which took EF with it
    "small_centered_frozen_patch_jitter_top3_var": Recipe(name="small_centered_frozen_patch_jitter_top3_var",
                                                          jepa_center_targets=True, freeze_patch_embed=True,
                                                          acq_jitter=1.0, jepa_target_layers=3,
                                                          jepa_var_weight=1.0, jepa_var_gamma=0.2),
    # top3 trained twice as long (3000 steps, 48k clips seen): every recipe so far ran 1500 steps, and
    # training length is the lever not yet tried; warm-up, cosine and the EMA ramp stretch with the run
    "small_centered_frozen_patch_jitter_top3_long": Recipe(name="small_centered_frozen_patch_jitter_top3_long",
                                                           jepa_center_targets=True, freeze_patch_embed=True,
                                                           acq_jitter=1.0, jepa_target_layers=3, steps=3000),
    # top3 with a slower target encoder (EMA 0.9995 -> 1 instead of 0.996 -> 1): snapshots kept the
    # untrained encoder's EF for ~500 steps, while the target had barely moved from its initialisation, and
    # lost it as the target drifted; a target that stays near its start for the whole run
    "small_centered_frozen_patch_jitter_top3_slow_ema": Recipe(name="small_centered_frozen_patch_jitter_top3_slow_ema",
                                                               jepa_center_targets=True, freeze_patch_embed=True,
                                                               acq_jitter=1.0, jepa_target_layers=3,
                                                               ema=(0.9995, 1.0)),
    # top3 with a predictor twice as deep (8 blocks of 96-d instead of 4): the predictor size is the lever
    # the issue names that no recipe had moved. As a deeper MAE decoder leaves the encoder's last blocks
    # less specialised to the pretext task (He et al. 2022, linear probing), a deeper predictor can take on
    # the prediction, and the encoder's last blocks, which the layer probes saw drop EF, may keep it
    "small_centered_frozen_patch_jitter_top3_deep_predictor": Recipe(
        name="small_centered_frozen_patch_jitter_top3_deep_predictor", jepa_center_targets=True,
        freeze_patch_embed=True, acq_jitter=1.0, jepa_target_layers=3, pred_depth=8),
    # top3 with short-range masks only (8 blocks of 15% of the frame each, no 2 blocks of 70%): the mask
    # scale is a lever the issue names that no recipe had moved. Long-range blocks hide most of the heart,
    # so the predictor can only guess what is typical there; small holes keep the walls round each hidden
    # block in view, and predicting it asks where this clip's wall is in this frame: the cavity's size
    "small_centered_frozen_patch_jitter_top3_short_masks": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks", jepa_center_targets=True,
        freeze_patch_embed=True, acq_jitter=1.0, jepa_target_layers=3, jepa_masks=((8, 0.15),)),
    # short masks plus a second generator hiding whole time spans (3 of 8 time slots): the short blocks ask
    # where this clip's wall is in a frame, the spans ask how it moves between frames (the uncentred
    # time-span JEPA was the best clean JEPA of its day, 7.82); together they ask for the beat's amplitude
    "small_centered_frozen_patch_jitter_top3_short_masks_timespan": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_timespan", jepa_center_targets=True,
        freeze_patch_embed=True, acq_jitter=1.0, jepa_target_layers=3, jepa_masks=((8, 0.15),),
        jepa_time_span=0.375),
    # short masks with the slower target encoder (EMA 0.9995 -> 1): the slow target kept the untrained
    # encoder's EF on two seeds but its fragility too; short masks gave one seed the best benchmark mean.
    # Whether the two levers add, or sit on the same clean-vs-robust trade-off as every recipe before
    "small_centered_frozen_patch_jitter_top3_short_masks_slow_ema": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_slow_ema", jepa_center_targets=True,
        freeze_patch_embed=True, acq_jitter=1.0, jepa_target_layers=3, jepa_masks=((8, 0.15),),
        ema=(0.9995, 1.0)),
    # short masks with a fixed random target (EMA 1 -> 1) read through the context encoder: the untrained
    # encoder has held the best clean EF of every run, and every trained target lost some of it; here the
    # target keeps its random draw's features exactly, and the context encoder must predict them at hidden
    # places from another acquisition, so it learns what of them the anatomy decides, not the speckle or gain
    "small_centered_frozen_patch_jitter_top3_short_masks_random_target": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_random_target", jepa_center_targets=True,
        freeze_patch_embed=True, acq_jitter=1.0, jepa_target_layers=3, jepa_masks=((8, 0.15),),
        ema=(1.0, 1.0), jepa_readout="context"),
    # short masks with the slower target encoder, on gain-normalised clips (model_zoo.gain_norm, sigma 0.05
    # of the width): the slow-EMA JEPA kept the most clean EF of any JEPA and lost +42-56% under the
    # benchmark's gain fields; a fixed input normalisation that cancels smooth gain fields took raw pixels
    # from 6.18 to 5.70 clean and +48% to +9% (val, RECIPES.md). Its like-for-like MAE is the next but one
    "small_centered_frozen_patch_jitter_top3_short_masks_slow_ema_gain_norm": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_slow_ema_gain_norm", jepa_center_targets=True,
        freeze_patch_embed=True, acq_jitter=1.0, jepa_target_layers=3, jepa_masks=((8, 0.15),),
        ema=(0.9995, 1.0), input_gain_norm=0.05),
    # ... and every jittered view also casts an acoustic shadow (severity uniform in [0, 1], model_zoo.data.
    # acquisition_view): the gain-normalised JEPA lost most under the benchmark's strong shadow (6.33 -> 9.44)
    # and depth attenuation; real acquisitions carry rib and lung shadows, so pretraining that has seen them
    # may learn to read the heart through them. Its like-for-like MAE is `..._gain_norm_mask60_shadow`
    "small_centered_frozen_patch_jitter_top3_short_masks_slow_ema_gain_norm_shadow": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_slow_ema_gain_norm_shadow",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, acq_shadow=1.0, jepa_target_layers=3,
        jepa_masks=((8, 0.15),), ema=(0.9995, 1.0), input_gain_norm=0.05),
    # ... with the shadows and the extra attenuation and gain cut on the context view only: the targets come
    # from the clean clip (acq_clean_targets), so the context encoder must predict what a clean acquisition
    # holds from a shadowed, attenuated one (BYOL's asymmetric views), instead of the shadow a target drew
    # on its own. Shadows in both views did not make the JEPA more robust (+20.3%); the clean-target JEPA on
    # raw clips moved towards the floor (9.60). This asks whether asymmetry on normalised clips teaches
    # invariance to the benchmark's two families without losing the clean EF the slow target keeps
    "small_centered_frozen_patch_jitter_top3_short_masks_slow_ema_gain_norm_shadow_clean_targets": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_slow_ema_gain_norm_shadow_clean_targets",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True,
        jepa_target_layers=3, jepa_masks=((8, 0.15),), ema=(0.9995, 1.0), input_gain_norm=0.05),
    # short masks on gain-normalised clips with V-JEPA's target schedule (EMA 0.996 -> 1): the slow-EMA run
    # beside it keeps two thirds of its random draw, so it mostly measures an untrained encoder on normalised
    # input; this one asks whether latent prediction teaches anything once the input cancels gain fields
    "small_centered_frozen_patch_jitter_top3_short_masks_gain_norm": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_gain_norm", jepa_center_targets=True,
        freeze_patch_embed=True, acq_jitter=1.0, jepa_target_layers=3, jepa_masks=((8, 0.15),),
        input_gain_norm=0.05),
    # ... with blurred targets (jepa_target_blur 3 px, the most anatomy in a frame-to-frame change on training
    # clips): the target that learnt above lost almost all its draw's EF (9.27), as every JEPA whose target
    # moves has; one reading (RECIPES.md, beat-weighted targets) is that half of what changes between time
    # slots in a sharp target is speckle decorrelating, which no hidden place can predict, so the encoder
    # learns to discard change over the beat, the contraction with it. Targets without the grain ask the
    # context encoder to predict where walls and cavities are, from a speckled view
    "small_centered_frozen_patch_jitter_top3_short_masks_gain_norm_blur_targets": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_gain_norm_blur_targets", jepa_center_targets=True,
        freeze_patch_embed=True, acq_jitter=1.0, jepa_target_layers=3, jepa_masks=((8, 0.15),),
        input_gain_norm=0.05, jepa_target_blur=3.0),
    # ... the same with the slower target encoder (EMA 0.9995 -> 1) of the shipped-candidate pair (6.16 / 6.12)
    "small_centered_frozen_patch_jitter_top3_short_masks_slow_ema_gain_norm_blur_targets": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_slow_ema_gain_norm_blur_targets",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, jepa_target_layers=3,
        jepa_masks=((8, 0.15),), ema=(0.9995, 1.0), input_gain_norm=0.05, jepa_target_blur=3.0),
    # ... the same with tubelets of 4 frames, not 2 (4 time slots of a quarter beat each): the probe
    # pools tokens with one query, a weighted mean over time slots that cannot hold a change between slots,
    # yet the contraction EF measures is such a change (RECIPES.md, the beat view); a token spanning a
    # quarter beat holds the walls' motion inside it, where a pooled mean keeps it. Its like-for-like MAE is
    # `small_frozen_patch_jitter_gain_norm_mask60_tubelet4`
    "small_centered_frozen_patch_jitter_top3_short_masks_slow_ema_gain_norm_tubelet4": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_slow_ema_gain_norm_tubelet4",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, jepa_target_layers=3,
        jepa_masks=((8, 0.15),), ema=(0.9995, 1.0), input_gain_norm=0.05, tubelet=4),
    # ... the same from a pool of 24,000 phantom hearts, not 4,096: each clip seen once in the 1500 steps, not about
    # six times (the first section's untried 'larger pool of clips'). Its like-for-like MAE is
    # `small_frozen_patch_jitter_gain_norm_mask60_tubelet4_pool24k`
    "small_centered_frozen_patch_jitter_top3_short_masks_slow_ema_gain_norm_tubelet4_pool24k": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_slow_ema_gain_norm_tubelet4_pool24k",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, jepa_target_layers=3,
        jepa_masks=((8, 0.15),), ema=(0.9995, 1.0), input_gain_norm=0.05, tubelet=4, n_clips=24_000),
    # ... four-frame tubelets with V-JEPA's target schedule (EMA 0.996 -> 1): with two-frame tokens the target
    # that learnt lost its draw's EF (9.27 / 8.03); with four-frame tokens the slow target added to its draw
    # and lost less under the benchmark. Whether a target that learns does so too
    "small_centered_frozen_patch_jitter_top3_short_masks_gain_norm_tubelet4": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_gain_norm_tubelet4", jepa_center_targets=True,
        freeze_patch_embed=True, acq_jitter=1.0, jepa_target_layers=3, jepa_masks=((8, 0.15),),
        input_gain_norm=0.05, tubelet=4),
    # ... the same from a pool of 24,000 phantom hearts, not 4,096: the slow target barely learns, so its pool
    # could not matter (RECIPES.md); this target learns, and its three seeds on 4,096 hearts spread widely
    # (7.91 / 6.18 / 8.60). Its like-for-like MAE is `small_frozen_patch_jitter_gain_norm_mask60_tubelet4_pool24k`
    "small_centered_frozen_patch_jitter_top3_short_masks_gain_norm_tubelet4_pool24k": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_gain_norm_tubelet4_pool24k",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, jepa_target_layers=3,
        jepa_masks=((8, 0.15),), input_gain_norm=0.05, tubelet=4, n_clips=24_000),
    # ... with shadows and the extra attenuation and gain cut on the context view only, targets from the clean
    # clip. With the slow target (two-frame, `..._slow_ema_gain_norm_shadow_clean_targets`) the encoder the
    # probe reads barely moved from its draw and never saw a shadow, so nothing the context encoder learnt
    # reached it; with V-JEPA's schedule the target is the context encoder's running mean, so any invariance
    # the context encoder learns should. Its like-for-like MAE is `..._mask60_tubelet4_shadow_clean_targets`
    "small_centered_frozen_patch_jitter_top3_short_masks_gain_norm_tubelet4_shadow_clean_targets": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_gain_norm_tubelet4_shadow_clean_targets",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True,
        jepa_target_layers=3, jepa_masks=((8, 0.15),), input_gain_norm=0.05, tubelet=4),
    # ... the same with a target EMA between the two tried (0.998 -> 1, where V-JEPA's is 0.996 and the slow one
    # 0.9995): with V-JEPA's the target learns and its three seeds spread widely (6.45-7.36 clean, +3.2 to +7.0%);
    # with the slow one a target keeps its draw. Whether half V-JEPA's rate keeps the draw's EF steadier while the
    # target still takes in what the context encoder learns. Its like-for-like MAE is the one above's
    "small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True,
        jepa_target_layers=3, jepa_masks=((8, 0.15),), ema=(0.998, 1.0), input_gain_norm=0.05, tubelet=4),
    # ... the clean-target recipe with V-JEPA's schedule and a predictor of 2 blocks, not 4 (the deep predictor's
    # 8 changed nothing on the two-frame top3): a predictor too shallow to see through a shadow or an attenuation
    # itself leaves that work to the context encoder, whose running mean the probe reads. Its like-for-like MAE
    # is `..._mask60_tubelet4_shadow_clean_targets`
    "small_centered_frozen_patch_jitter_top3_short_masks_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True,
        jepa_target_layers=3, jepa_masks=((8, 0.15),), input_gain_norm=0.05, tubelet=4, pred_depth=2),
    # ... the same with 3 predictor blocks: the midpoint of the dial the shallow predictor found (2 blocks bought
    # robustness with clean EF, 4 kept clean EF and lost more under the benchmark). Its like-for-like MAE is
    # `..._mask60_tubelet4_shadow_clean_targets`
    "small_centered_frozen_patch_jitter_top3_short_masks_gain_norm_tubelet4_shadow_clean_targets_mid_predictor": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_gain_norm_tubelet4_shadow_clean_targets_mid_predictor",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True,
        jepa_target_layers=3, jepa_masks=((8, 0.15),), input_gain_norm=0.05, tubelet=4, pred_depth=3),
    # ... 2 predictor blocks with the mid target EMA (0.998 -> 1): the shallow predictor bought robustness with clean
    # EF, the mid EMA kept the most clean EF of the clean-target recipes (with 4 blocks); whether the two add. Its
    # like-for-like MAE is `..._mask60_tubelet4_shadow_clean_targets`
    "small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True,
        jepa_target_layers=3, jepa_masks=((8, 0.15),), ema=(0.998, 1.0), input_gain_norm=0.05, tubelet=4,
        pred_depth=2),
    # ... the same with batches of 32 clips, not 16 (1500 steps, so 48k clips seen from the same 4,096 hearts), the
    # peak lr unchanged: the targets are centred by their batch mean at each place, a mean over 16 clips is a noisy
    # one, and V-JEPA trains on batches of thousands. Its like-for-like MAE is `..._shadow_clean_targets_batch32`
    "small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_batch32": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_batch32",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True,
        jepa_target_layers=3, jepa_masks=((8, 0.15),), ema=(0.998, 1.0), input_gain_norm=0.05, tubelet=4,
        pred_depth=2, batch=32),
    # ... the same at batches of 16 trained twice as long (3000 steps, 48k clips seen, the compute of the batch of
    # 32): more steps, not larger ones; the lr schedule and the EMA's rise stretch over the 3000 steps. Its
    # like-for-like MAE is `..._shadow_clean_targets_long`
    "small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_long": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_long",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True,
        jepa_target_layers=3, jepa_masks=((8, 0.15),), ema=(0.998, 1.0), input_gain_norm=0.05, tubelet=4,
        pred_depth=2, steps=3000),
    # ... at 1500 steps of 16 with the gain normalisation's floor at 0.005, not 0.02 (chosen on val: raw pixels
    # gain-normalised with it lost +4.3% under the benchmark, not +12.7%, clean 5.40 against 5.30), so the input
    # itself keeps most of a deep shadow's or a far field's tissue. Its like-for-like MAE is `..._low_floor`
    "small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_low_floor": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_low_floor",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True,
        jepa_target_layers=3, jepa_masks=((8, 0.15),), ema=(0.998, 1.0), input_gain_norm=0.05, tubelet=4,
        pred_depth=2, input_gain_eps=0.005),
    # ... at floor 0.005 with the invariance term (jepa_invariance_weight 1): every JEPA here lost more under the
    # benchmark than its input (floor 0.002: +2.3 / +2.5% against the pixels' +0.9%), though it pretrained on
    # shadowed, attenuated context views with clean targets; the term asks the encoder the probe reads to map a
    # shadowed place to the clean one, not only to keep what lets the predictor see through it
    "small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_low_floor_invariance": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_low_floor_invariance",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True,
        jepa_target_layers=3, jepa_masks=((8, 0.15),), ema=(0.998, 1.0), input_gain_norm=0.05, tubelet=4,
        pred_depth=2, input_gain_eps=0.005, jepa_invariance_weight=1.0),
    # ... the same with a quarter of the weight (0.25): a term without a predictor can pull both encoders toward
    # one constant, so the lighter weight is the one that may keep what the masked-token loss learns
    "small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_low_floor_invariance_light": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_low_floor_invariance_light",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True,
        jepa_target_layers=3, jepa_masks=((8, 0.15),), ema=(0.998, 1.0), input_gain_norm=0.05, tubelet=4,
        pred_depth=2, input_gain_eps=0.005, jepa_invariance_weight=0.25),
    # ... at half the JEPA's peak learning rate (1.875e-4, not 3.75e-4): twice the steps drifted this JEPA into an
    # invariance that cost its clean EF (9.39, +1.4%), so the step size is a dial no run has turned: does a JEPA
    # that moves less from its random draw keep more of what it read, and lose more under the benchmark?
    "small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_low_floor_half_lr": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_low_floor_half_lr",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True,
        jepa_target_layers=3, jepa_masks=((8, 0.15),), ema=(0.998, 1.0), input_gain_norm=0.05, tubelet=4,
        pred_depth=2, input_gain_eps=0.005, jepa_lr=1.875e-4),
    # ... the half step with weight decay 0.4, not 0.05 (V-JEPA raises its decay from 0.04 to 0.4): decoupled decay
    # shrinks the weights by lr x wd a step, so the half step also halved the pull toward small weights; at 0.4 it
    # is eight times the half step's. Does a stronger pull keep the encoder off detail that costs it under the
    # benchmark, or shrink what the half step kept of the clean clip?
    "small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_low_floor_half_lr_wd04": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_low_floor_half_lr_wd04",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True,
        jepa_target_layers=3, jepa_masks=((8, 0.15),), ema=(0.998, 1.0), input_gain_norm=0.05, tubelet=4,
        pred_depth=2, input_gain_eps=0.005, jepa_lr=1.875e-4, weight_decay=0.4),
    # ... and at twice it (7.5e-4): the other side of the same dial, larger steps over the same 1500
    "small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_low_floor_double_lr": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_low_floor_double_lr",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True,
        jepa_target_layers=3, jepa_masks=((8, 0.15),), ema=(0.998, 1.0), input_gain_norm=0.05, tubelet=4,
        pred_depth=2, input_gain_eps=0.005, jepa_lr=7.5e-4),
    # ... with the floor at 0.002 (on val the gain-normalised pixels lost +2.8% under the benchmark at 0.002,
    # +4.3% at 0.005, clean 0.13 worse): does the JEPA's +2.0% (three seeds at 0.005) follow its input down?
    "small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_lower_floor": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_lower_floor",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True,
        jepa_target_layers=3, jepa_masks=((8, 0.15),), ema=(0.998, 1.0), input_gain_norm=0.05, tubelet=4,
        pred_depth=2, input_gain_eps=0.002),
    # ... at half the peak learning rate and the floor at 0.002 together: at the usual step the JEPA did not follow
    # its input down (+2.3% at 0.002, pixels +0.9%), but the half step leaves it nearer its random draw and its
    # input, so its loss under the benchmark (+3.1% over three seeds at 0.005, pixels +2.5%) may follow the input's
    "small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_lower_floor_half_lr": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_mid_ema_gain_norm_tubelet4_shadow_clean_targets_shallow_predictor_lower_floor_half_lr",
        jepa_center_targets=True, freeze_patch_embed=True, acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True,
        jepa_target_layers=3, jepa_masks=((8, 0.15),), ema=(0.998, 1.0), input_gain_norm=0.05, tubelet=4,
        pred_depth=2, input_gain_eps=0.002, jepa_lr=1.875e-4),
    # short masks whose targets weigh what changes over the beat: every target plus twice its deviation from
    # the same place's mean over the clip (jepa_motion_weight 2; at initialisation 17% of the centred targets'
    # energy changes over the beat, so about two thirds of it then). The per-layer probes found the MAEs keep
    # the static anatomy (heart size) and lose the contraction EF measures, and every learning JEPA lost EF
    # to invariance; this pretext pays most for the walls' motion. V-JEPA's target schedule, so the target
    # encoder learns (the slow one keeps two thirds of its random draw); compare with `..._short_masks`
    "small_centered_frozen_patch_jitter_top3_short_masks_motion": Recipe(
        name="small_centered_frozen_patch_jitter_top3_short_masks_motion", jepa_center_targets=True,
        freeze_patch_embed=True, acq_jitter=1.0, jepa_target_layers=3, jepa_masks=((8, 0.15),),
        jepa_motion_weight=2.0),
    # The MAE's side: the same jittered clips (one draw each, input and target alike)
    "small_frozen_patch_jitter": Recipe(name="small_frozen_patch_jitter", freeze_patch_embed=True, acq_jitter=1.0),
    # ... with 60% of the tubes hidden, not 90%: every MAE on raw clips so far hid 90%; on gain-normalised clips
    # 60% lifted one pretraining seed of two off the floor. The like-for-like MAE at 60% for the raw-clip JEPAs
    # (`..._short_masks_slow_ema`), trained on two seeds at once
    "small_frozen_patch_jitter_mask60": Recipe(name="small_frozen_patch_jitter_mask60", freeze_patch_embed=True,
                                               acq_jitter=1.0, mae_mask_ratio=0.6),
    # ... on gain-normalised clips, the MAE beside the gain-normalised JEPA (it reconstructs the normalised clip)
    "small_frozen_patch_jitter_gain_norm": Recipe(name="small_frozen_patch_jitter_gain_norm", freeze_patch_embed=True,
                                                  acq_jitter=1.0, input_gain_norm=0.05),
    # ... with plain pixel targets (norm_pix_loss off): on a gain-normalised clip each patch's own mean and std
    # carry much of what the normalisation left of the anatomy, so per-patch normalised targets may leave
    # mostly speckle to reconstruct; the plain targets keep the patch's brightness (blood pool dark, wall bright)
    "small_frozen_patch_jitter_gain_norm_plain_pix": Recipe(name="small_frozen_patch_jitter_gain_norm_plain_pix",
                                                            freeze_patch_embed=True, acq_jitter=1.0,
                                                            input_gain_norm=0.05, mae_norm_pix_loss=False),
    # ... with norm-pix targets but 75% of the tubes hidden, not 90%: more visible context per clip (VideoMAE's
    # ratio for motion-rich video is 90%, ImageMAE's 75%)
    "small_frozen_patch_jitter_gain_norm_mask75": Recipe(name="small_frozen_patch_jitter_gain_norm_mask75",
                                                         freeze_patch_embed=True, acq_jitter=1.0,
                                                         input_gain_norm=0.05, mae_mask_ratio=0.75),
    # ... and with 60% hidden: 75% lifted it a little off the floor (9.61 against 9.79-9.97 at 90%); does the
    # trend go on?
    "small_frozen_patch_jitter_gain_norm_mask60": Recipe(name="small_frozen_patch_jitter_gain_norm_mask60",
                                                         freeze_patch_embed=True, acq_jitter=1.0,
                                                         input_gain_norm=0.05, mae_mask_ratio=0.6),
    # ... with tubelets of 4 frames: the like-for-like MAE for `..._short_masks_slow_ema_gain_norm_tubelet4`
    "small_frozen_patch_jitter_gain_norm_mask60_tubelet4": Recipe(
        name="small_frozen_patch_jitter_gain_norm_mask60_tubelet4", freeze_patch_embed=True, acq_jitter=1.0,
        input_gain_norm=0.05, mae_mask_ratio=0.6, tubelet=4),
    # ... from a pool of 24,000 phantom hearts: the like-for-like MAE for `..._tubelet4_pool24k`
    "small_frozen_patch_jitter_gain_norm_mask60_tubelet4_pool24k": Recipe(
        name="small_frozen_patch_jitter_gain_norm_mask60_tubelet4_pool24k", freeze_patch_embed=True, acq_jitter=1.0,
        input_gain_norm=0.05, mae_mask_ratio=0.6, tubelet=4, n_clips=24_000),
    # ... reading shadowed, attenuated clips and reconstructing the clean clip's pixels (a denoising MAE): the
    # like-for-like MAE for `..._short_masks_gain_norm_tubelet4_shadow_clean_targets`
    "small_frozen_patch_jitter_gain_norm_mask60_tubelet4_shadow_clean_targets": Recipe(
        name="small_frozen_patch_jitter_gain_norm_mask60_tubelet4_shadow_clean_targets", freeze_patch_embed=True,
        acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True, input_gain_norm=0.05, mae_mask_ratio=0.6, tubelet=4),
    # ... with batches of 32 clips and the same peak lr as at 16 (mae_blr halved, so mae_blr * batch / 256 stays
    # 3.75e-4): the like-for-like MAE for `..._shallow_predictor_batch32`
    "small_frozen_patch_jitter_gain_norm_mask60_tubelet4_shadow_clean_targets_batch32": Recipe(
        name="small_frozen_patch_jitter_gain_norm_mask60_tubelet4_shadow_clean_targets_batch32", freeze_patch_embed=True,
        acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True, input_gain_norm=0.05, mae_mask_ratio=0.6, tubelet=4,
        batch=32, mae_blr=3e-3),
    # ... trained twice as long (3000 steps of 16): the like-for-like MAE for `..._shallow_predictor_long`
    "small_frozen_patch_jitter_gain_norm_mask60_tubelet4_shadow_clean_targets_long": Recipe(
        name="small_frozen_patch_jitter_gain_norm_mask60_tubelet4_shadow_clean_targets_long", freeze_patch_embed=True,
        acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True, input_gain_norm=0.05, mae_mask_ratio=0.6, tubelet=4,
        steps=3000),
    # ... with the gain normalisation's floor at 0.005: the like-for-like MAE for `..._shallow_predictor_low_floor`
    "small_frozen_patch_jitter_gain_norm_mask60_tubelet4_shadow_clean_targets_low_floor": Recipe(
        name="small_frozen_patch_jitter_gain_norm_mask60_tubelet4_shadow_clean_targets_low_floor", freeze_patch_embed=True,
        acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True, input_gain_norm=0.05, mae_mask_ratio=0.6, tubelet=4,
        input_gain_eps=0.005),
    # ... at half its peak learning rate (mae_blr 3e-3: 1.875e-4 at batch 16, not 3.75e-4): the like-for-like MAE for
    # `..._shallow_predictor_low_floor_half_lr`, so the JEPA's step is not the only one turned
    "small_frozen_patch_jitter_gain_norm_mask60_tubelet4_shadow_clean_targets_low_floor_half_lr": Recipe(
        name="small_frozen_patch_jitter_gain_norm_mask60_tubelet4_shadow_clean_targets_low_floor_half_lr",
        freeze_patch_embed=True, acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True, input_gain_norm=0.05,
        mae_mask_ratio=0.6, tubelet=4, input_gain_eps=0.005, mae_blr=3e-3),
    # ... with 40% of the tubes hidden, not 60%: at floor 0.005 the 60% MAE read EF in one draw of three (R2
    # 0.26; 0.09 / 0.10 in the others); on gain-normalised clips each lower ratio (90 -> 75 -> 60%) kept more
    # EF, so less to inpaint may keep its encoder off the floor
    "small_frozen_patch_jitter_gain_norm_mask40_tubelet4_shadow_clean_targets_low_floor": Recipe(
        name="small_frozen_patch_jitter_gain_norm_mask40_tubelet4_shadow_clean_targets_low_floor", freeze_patch_embed=True,
        acq_jitter=1.0, acq_shadow=1.0, acq_clean_targets=True, input_gain_norm=0.05, mae_mask_ratio=0.4, tubelet=4,
        input_gain_eps=0.005),
    # ... with a 60% mask and an acoustic shadow in every jittered view: the like-for-like MAE for
    # `..._short_masks_slow_ema_gain_norm_shadow`
    "small_frozen_patch_jitter_gain_norm_mask60_shadow": Recipe(
        name="small_frozen_patch_jitter_gain_norm_mask60_shadow", freeze_patch_embed=True, acq_jitter=1.0,
        acq_shadow=1.0, input_gain_norm=0.05, mae_mask_ratio=0.6),
    # ... trained twice as long: at 1500 steps it read almost no EF (clean R2 0.05), does more training lift it?
    "small_frozen_patch_jitter_gain_norm_long": Recipe(name="small_frozen_patch_jitter_gain_norm_long",
                                                       freeze_patch_embed=True, acq_jitter=1.0, input_gain_norm=0.05,
                                                       steps=3000),
    # ... with a decoder twice as deep (8 blocks of 96-d instead of 4): MAE's own ablation found a deeper
    # decoder leaves the encoder's last blocks less specialised to reconstruction and raises linear probing
    # (He et al. 2022, Table 1a), so the like-for-like MAE's EF may be held back by its decoder
    "small_frozen_patch_jitter_deep_decoder": Recipe(name="small_frozen_patch_jitter_deep_decoder",
                                                     freeze_patch_embed=True, acq_jitter=1.0, dec_depth=8),
    # ... trained twice as long, the like-for-like MAE for `..._jitter_top3_long`
    "small_frozen_patch_jitter_long": Recipe(name="small_frozen_patch_jitter_long", freeze_patch_embed=True,
                                             acq_jitter=1.0, steps=3000),
    # ... and with the milder jitter, the like-for-like MAE for `..._jitter_mild` and `..._jitter_top3_mild`
    "small_frozen_patch_jitter_mild": Recipe(name="small_frozen_patch_jitter_mild", freeze_patch_embed=True,
                                             acq_jitter=0.5),
}


def field_value(value):
    """A recipe field's value from JSON: lists (nested one deep) back to tuples."""
    return tuple(tuple(x) if isinstance(x, list) else x for x in value) if isinstance(value, list) else value


def recipe_from_card(card: dict | None) -> Recipe:
    """The Recipe a model card's recipe_settings describe; a field the card predates keeps its default
    (what the run trained with), and a card without settings (a converted checkpoint) gets the defaults."""
    settings = (card or {}).get("recipe_settings") or {}
    known = {k: field_value(v) for k, v in settings.items() if k in Recipe.__dataclass_fields__ and k != "name"}
    return Recipe(name=(card or {}).get("recipe") or "unknown", **known)


def get_recipe(name: str, **overrides) -> Recipe:
    """The named recipe, with any field replaced by keyword."""
    if name not in RECIPES:
        raise KeyError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}")
    return dataclasses.replace(RECIPES[name], **overrides)
