"""Semi-global matching of IR stereo pairs into realistic, holey sensor disparity and depth.

`match(left, right, *, max_disparity, preset="generic", device="cpu")` -> float32 disparity (px,
0 = hole) of the left image; left(x) corresponds to right(x - d). Presets live in presets.json.
"""
from sgm.matcher import match
from sgm.presets import SGMParams, load_preset, preset_names

__all__ = ["match", "SGMParams", "load_preset", "preset_names"]
