"""Projector dot patterns (numpy only): see :mod:`patterns.generators`."""
from patterns.generators import KINDS, Pattern, PatternParams, generate, sample_params

__all__ = ["KINDS", "Pattern", "PatternParams", "generate", "sample_params"]
