"""F1 from counts: the one definition the threshold search, the diagnostics, the checkpoint
choice and the reports share.

``2 tp / (n_ref + n_sys)``, elementwise: the harmonic mean of precision ``tp / n_sys`` and
recall ``tp / n_ref`` with its limits made explicit. It is 0 where something was to be found
and nothing (or nothing right) was; where there was nothing to find (``n_ref == 0``) F1 is
undefined, as in sed_eval (NaN), or ``nothing_to_find`` where a caller needs a number.
"""

from __future__ import annotations

import numpy as np


def f1(tp, n_sys, n_ref, nothing_to_find: float = np.nan):
    """F1 of true positives ``tp`` among ``n_sys`` estimates and ``n_ref`` references (arrays
    broadcast; a scalar in, a float out)."""
    tp, n_sys, n_ref = (np.asarray(v, dtype=np.float64) for v in (tp, n_sys, n_ref))
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(n_ref > 0, 2 * tp / (n_ref + n_sys), nothing_to_find)
    return float(value) if value.ndim == 0 else value
