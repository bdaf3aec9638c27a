"""Validation of a stereo pair and its search range before any tensor work (clear ValueErrors)."""
from __future__ import annotations

import warnings

import cv2
import numpy as np
import torch

from lbd.errors import UserError

MIN_SIZE = 16  # px, smallest image side the matcher accepts


class ConstantImageError(UserError, ValueError):
    """An image with one grey level everywhere: there is nothing to match (a sensor sees no depth)."""


def as_grey(image: object, name: str) -> np.ndarray:
    """A 2-D uint8 or uint16 array from `image`; colour (H, W, 3|4) is converted to grey with a
    warning. Raises ValueError naming `name` for anything else (NaN, negative, float, wrong rank)."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array, got {type(image).__name__}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.dtype.kind == "f":
        if not np.isfinite(image).all():
            raise ValueError(f"{name}: image contains NaN or infinite values")
        if (image < 0).any():
            raise ValueError(f"{name}: image contains negative values")
        raise ValueError(f"{name}: expected uint8 or uint16 grey levels, got {image.dtype}; "
                         "convert the IR image to integers first")
    if image.dtype.kind in "iu" and image.dtype not in (np.uint8, np.uint16):
        if image.size and image.min() < 0:
            raise ValueError(f"{name}: image contains negative values")
        if image.size and image.max() > 65535:
            raise ValueError(f"{name}: values above 65535 do not fit uint16")
        image = image.astype(np.uint16)
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{name}: expected uint8 or uint16, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] in (3, 4):
        warnings.warn(f"{name}: colour image {image.shape} converted to grey (RGB order assumed)",
                      stacklevel=3)
        code = cv2.COLOR_RGB2GRAY if image.shape[2] == 3 else cv2.COLOR_RGBA2GRAY
        image = cv2.cvtColor(np.ascontiguousarray(image), code)
    if image.ndim != 2:
        raise ValueError(f"{name}: expected a (H, W) grey image, got shape {image.shape}")
    return np.ascontiguousarray(image)


def check_pair(left: object, right: object, max_disparity: object) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated (left, right, max_disparity): same size and dtype, not constant, 0 < D < width."""
    left_img = as_grey(left, "left")
    right_img = as_grey(right, "right")
    if left_img.shape != right_img.shape:
        raise ValueError(f"left and right images differ in size: {left_img.shape} vs {right_img.shape}")
    if left_img.dtype != right_img.dtype:
        # mixed depths: bring the 8-bit one to 16 bits so grey levels keep their meaning
        left_img, right_img = (im.astype(np.uint16) * (257 if im.dtype == np.uint8 else 1)
                               for im in (left_img, right_img))
    rows, cols = left_img.shape
    if rows < MIN_SIZE or cols < MIN_SIZE:
        raise ValueError(f"images are too small for matching: {left_img.shape}, need >= {MIN_SIZE} px per side")
    for name, img in (("left", left_img), ("right", right_img)):
        if img.min() == img.max():
            raise ConstantImageError(f"{name} image is constant (every pixel = {int(img.min())}): nothing to match")
    if isinstance(max_disparity, bool) or not isinstance(max_disparity, (int, np.integer)):
        raise ValueError(f"max_disparity must be an integer number of pixels, got {max_disparity!r}")
    max_disparity = int(max_disparity)
    if max_disparity < 2:
        raise ValueError(f"max_disparity must be >= 2 px, got {max_disparity}")
    if max_disparity >= cols:
        raise ValueError(f"max_disparity {max_disparity} px is not below the image width {cols} px")
    return left_img, right_img, max_disparity


def check_device(device: str | torch.device) -> torch.device:
    """A usable torch device or a ValueError naming it."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device {device!r} is not supported (use cpu or cuda)")
    return dev


def grey_scale(*images: np.ndarray) -> float:
    """Factor to 8-bit grey levels shared by a pair: 1 for uint8; for uint16, 255 / (2^b - 1) with
    b >= 8 the bit depth the data uses (smallest b with max < 2^b), so 10- or 12-bit IR stored in
    uint16 keeps the same grey-level thresholds (texture test, adaptive P2, AD) as 8-bit IR."""
    if all(im.dtype == np.uint8 for im in images):
        return 1.0
    top = max(int(im.max()) for im in images)
    bits = max(8, int(top).bit_length())
    return 255.0 / float((1 << bits) - 1)


def grey_levels(image: np.ndarray, scale: float, device: str | torch.device = "cpu") -> torch.Tensor:
    """Image intensity in 8-bit grey levels (float32 tensor): image * scale (see grey_scale)."""
    return torch.from_numpy(image.astype(np.float32) * np.float32(scale)).to(device)
