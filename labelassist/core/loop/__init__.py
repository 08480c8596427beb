"""The review loop below Qt (docs/architecture.md, the review loop): :class:`ReviewSession` owns one volume's
review; :mod:`~labelassist.core.loop.learn` runs one round of learning from it. Both GUIs, the command line and
the benchmarks drive these, and nothing else."""

from labelassist.core.loop.learn import PropagationOutcome, PropagationRequest, apply_result, request_from, run_request
from labelassist.core.loop.session import PROPOSAL, REVIEWER, SEGMENTER, ReviewSession, SliceSnapshot

__all__ = ["ReviewSession", "SliceSnapshot", "PropagationRequest", "PropagationOutcome", "run_request", "request_from",
           "apply_result", "PROPOSAL", "SEGMENTER", "REVIEWER"]
