"""Anatomy label ids shared by the phantom's masks, focus scores and anatomy probes."""

LABELS: dict[int, str] = {
    0: "outside_sector",
    1: "extracardiac_tissue",
    2: "lv_cavity",
    3: "rv_cavity",
    4: "la_cavity",
    5: "ra_cavity",
    6: "myocardium",        # LV free wall and apex
    7: "septum",            # interventricular and interatrial septum
    8: "rv_atrial_wall",    # RV free wall and atrial walls
    9: "mitral_valve",
    10: "tricuspid_valve",
    11: "pericardium",
}
LABEL_IDS: dict[str, int] = {name: i for i, name in LABELS.items()}

CAVITIES = (2, 3, 4, 5)
WALLS = (6, 7, 8)
VALVES = (9, 10)
# Cardiac structures a clinician expects an anatomy-focused model to look at.
CARDIAC_STRUCTURES = WALLS + VALVES + (11,)
