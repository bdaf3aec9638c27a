"""The bottom floor of LingBot-Depth-S: what every other package may import (and it imports none of them).

* :mod:`lbd.errors` - the one user-error class hierarchy, mapped to exit codes once in ``cli.py``.
"""
