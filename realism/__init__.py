"""Sensor realism report: how the simulated active-stereo sensor fails, against GT and real captures.

Stages (one module each): :mod:`realism.causes` (why a hole is a hole, from GT geometry),
:mod:`realism.metrics` (error, hole, range, flying-pixel and hole-size statistics, left IR frame),
:mod:`realism.real` (GT-free statistics shared by simulated and real RGB-D frames),
:mod:`realism.plots` (matplotlib figures), :mod:`realism.report` (realism.json, PNGs, report.md),
:mod:`realism.commands` (``cli.py realism``).
"""
