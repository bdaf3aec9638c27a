"""Cycles render device selection: cpu | cuda | optix | hip, with a clear error when absent."""
from __future__ import annotations

import bpy

DEVICES = ("cpu", "cuda", "optix", "hip")


class DeviceError(ValueError):
    """The requested render device does not exist on this machine (message names it)."""


def gpu_devices(kind: str) -> list[str]:
    """Names of the GPUs Cycles finds for backend ``kind`` ('cuda', 'optix', 'hip')."""
    prefs = bpy.context.preferences.addons["cycles"].preferences
    try:
        prefs.compute_device_type = kind.upper()
    except TypeError:
        return []  # backend not compiled into this bpy build
    prefs.get_devices()
    return [d.name for d in prefs.devices if d.type == kind.upper()]


def check_device(device: str) -> None:
    """Raise DeviceError unless ``device`` is usable here."""
    if device not in DEVICES:
        raise DeviceError(f"--device {device!r} unknown; choose one of {', '.join(DEVICES)}")
    if device != "cpu" and not gpu_devices(device):
        raise DeviceError(f"--device {device}: Cycles finds no {device.upper()} device on this machine "
                          "(use --device cpu)")


def configure_device(scene: bpy.types.Scene, device: str, threads: int = 0) -> None:
    """Make ``scene`` render on ``device``; ``threads`` > 0 fixes the CPU thread count."""
    check_device(device)
    if device == "cpu":
        scene.cycles.device = "CPU"
    else:
        prefs = bpy.context.preferences.addons["cycles"].preferences
        prefs.compute_device_type = device.upper()
        prefs.get_devices()
        for d in prefs.devices:
            d.use = d.type == device.upper()
        scene.cycles.device = "GPU"
    if threads > 0:
        scene.render.threads_mode = "FIXED"
        scene.render.threads = threads
    else:
        scene.render.threads_mode = "AUTO"
