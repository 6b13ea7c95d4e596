"""``nn_transform.experimental``: model summaries (`eval_summary`, `tabulate`)."""

from .._summarise import MethodInvocation as MethodInvocation
from .._summarise import eval_summary as eval_summary
from .._summarise import tabulate as tabulate

__all__ = ["MethodInvocation", "eval_summary", "tabulate"]
