"""Shared pytest setup.

- `examples/` goes on ``sys.path`` so tests import the examples' helpers (``mnist_data``)
  the way the example scripts themselves do.
- Hypothesis runs without its per-example deadline: a deadline is a timing assertion, and
  timings on a shared two-core machine (or during a first-call compile) are not a property of
  the code under test.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

import derivax  # noqa: E402 - after the sys.path set-up above

# Type-check every IR that jit traces (the checker is the IR's executable specification).
derivax.config.update("check_ir", True)

try:
    from hypothesis import settings
except ImportError:  # hypothesis is in the `test` extra; tests that need it import it themselves
    pass
else:
    settings.register_profile("derivax", deadline=None)
    settings.load_profile("derivax")
