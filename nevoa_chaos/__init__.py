"""The counted fault suite (``make chaos``): every drill counts its readings.

Python API::

    from nevoa_chaos import DrillOptions, run_drill
    result = run_drill("fog-kill-9", DrillOptions(readings=20_000, kills=2))
    assert result.lost == 0 and result.duplicated == 0

:data:`DRILLS` names every drill; :func:`run_drills` runs several in order.
"""

from nevoa_chaos.drill import DrillOptions, DrillResult
from nevoa_chaos.drills import DRILLS, quick, run_drill, run_drills

__all__ = ["DRILLS", "DrillOptions", "DrillResult", "quick", "run_drill", "run_drills"]
