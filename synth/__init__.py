"""LingBot-Depth-S synthesis: rig sampling, sample schema, shards and manifest, render planning.

Nothing in this package imports ``bpy`` except ``synth.blender`` (and the worker that drives it).
"""
from synth.version import __version__

__all__ = ["__version__"]
