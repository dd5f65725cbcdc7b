"""The words the page uses, in one place under the intro: a clinician or a student met 'attentive probe', 'beat
view', 'probe seeds' and 'out-of-distribution score' in the cards with nothing saying what they are."""
from __future__ import annotations

TERMS = {
    "EF (ejection fraction)": "the share of the left ventricle's blood pumped out in one beat, (EDV - ESV) / EDV, "
                              "in %; 'EF points' are differences of EF in %.",
    "ED, ES": "end-diastole (the ventricle at its fullest) and end-systole (at its emptiest).",
    "JEPA, MAE": "the two ways of learning without labels compared here: a JEPA predicts the summaries (embeddings) "
                 "of hidden parts of the clip from the visible ones; an MAE (masked autoencoder) redraws the hidden "
                 "pixels. Neither saw an EF while it learned.",
    "token": "a small box of the clip that a model reads as one unit (16 x 16 pixels over 2 frames for the shipped "
             "models); a model turns each into a list of numbers, its embedding.",
    "probe (attentive, beat view)": "a small network trained on top of a model, which stays frozen, to read EF from its tokens. The "
             "attentive probe is V-JEPA's evaluation design (one learned query weighs every token, then a linear "
             "read-out); the beat view is the same probe given each token beside how it changes over the beat.",
    "probe seeds": "each probe was trained three times from different random starts; an error given as mean ± std "
                   "is over those three.",
    "benchmark error, EF MAE": "the mean absolute error in EF points on held-out phantom test clips (MAE here is "
                               "mean absolute error, not the model).",
    "all-black clip reads": "what a probe says about a clip with no heart in it; an EF near that cannot show the "
                            "probe read this heart.",
    "out-of-distribution score": "how far the clip's embedding lies from those of the phantom clips the model learned "
                                 "from; past the 99th percentile of held-out phantom clips' scores the clip is called "
                                 "out of distribution.",
    "attention rollout, focus ratio": "a map of where a model's attention comes from, carried back through its "
                                      "layers; the focus ratio is the map's share on walls, valves, pericardium and "
                                      "chamber borders over their share of the fan (1 = chance).",
    "speckle": "the grainy texture of ultrasound, an interference pattern of the tissue's tiny scatterers, which "
               "changes from frame to frame.",
    "phantom": "the simulated echo clips EchoLens makes, with a known EF; the shipped models learned from them only.",
}


def glossary_markdown() -> str:
    return "\n".join(f"- **{term}**: {meaning}" for term, meaning in TERMS.items())
