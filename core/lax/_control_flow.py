"""Control flow primitives: ``cond``, ``switch``, ``while_loop``, ``fori_loop``, ``scan``,
``map`` and ``associative_scan``.

Each loop or branch is a primitive holding its body as a sub-IR (``ClosedIR``), so it is
one equation under ``jit`` and has its own jvp, transpose and batching rules. The shared
IR machinery is in ``_cf_util``; each family lives in its own module.
"""

from ._associative_scan import associative_scan as associative_scan
from ._cond import cond as cond
from ._cond import switch as switch
from ._loops import fori_loop as fori_loop
from ._loops import while_loop as while_loop
from ._scan import map as map  # noqa: A004 - mirrors lax.map
from ._scan import scan as scan

__all__ = ["associative_scan", "cond", "fori_loop", "map", "scan", "switch", "while_loop"]
