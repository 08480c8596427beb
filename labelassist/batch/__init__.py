"""Batch proposal on dask.distributed (``labelassist batch``): expand the inputs, one task per volume on a
LocalCluster or an existing cluster, labels and provenance written atomically, a manifest, ``--resume``.

Level 3 of the rooms (beside ``demo``): it imports ``core``, ``io`` and ``errors``, never Qt.
"""

from labelassist.batch.inputs import expand_inputs, output_names
from labelassist.batch.manifest import COLUMNS, is_up_to_date, read_manifest, write_manifest
from labelassist.batch.runner import BatchResult, default_workers, open_client, plan_batch, run_batch
from labelassist.batch.task import BatchSpec, Proposal, load_model, propose_volume, provenance_path, run_volume

__all__ = ["expand_inputs", "output_names", "COLUMNS", "is_up_to_date", "read_manifest", "write_manifest",
           "BatchResult", "default_workers", "open_client", "plan_batch", "run_batch", "BatchSpec", "Proposal",
           "load_model", "propose_volume", "provenance_path", "run_volume"]
