"""napari's way into the LabelAssist dock widget (the manifest's ``labelassist.widget`` command).

Opening the widget is labelassist's entry point into napari's process, so this is where it sets up what torch
needs there (:func:`labelassist.engine.keep_triton_out`), before the widget's modules import torch: the viewer
has usually drawn already, and with Mesa's OpenGL (llvmpipe under Xvfb or without a GPU driver) the first import
of torchvision would load triton's LLVM beside Mesa's and crash. Blocking triton costs napari nothing it uses
(triton serves only ``torch.compile``). Importing :mod:`labelassist.napari` itself, or using its reader, writer or
samples, changes nothing in napari's process.
"""

from __future__ import annotations

__all__ = ["labelassist_widget"]


def labelassist_widget(napari_viewer):
    """The LabelAssist dock widget on ``napari_viewer`` (injected by napari)."""
    from labelassist.engine import keep_triton_out

    keep_triton_out()
    from labelassist.napari._widget import LabelAssistWidget

    return LabelAssistWidget(napari_viewer)
