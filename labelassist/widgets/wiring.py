"""Wiring of the control panel to the review controller, both ways (shared by the app and the napari plugin)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from labelassist.widgets.keys import KEYS, REVIEW
from labelassist.widgets.view import Shortcut

__all__ = ["connect_panel", "review_shortcuts", "model_text", "SHORTCUT_KEYS"]

SHORTCUT_KEYS = {name: KEYS[name].key for name in REVIEW}  # the review's keys, from the one table of keys


def review_shortcuts(controller) -> list[Shortcut]:
    """The review's keys, each bound to ``controller``'s action (both frontends install them)."""
    actions = {"accept": controller.accept, "reject": controller.reject, "mark_lesion": controller.mark_lesion,
               "next": controller.next_unreviewed,
               "accept_suggestion": controller.accept_suggestion,
               "next_suggestion": controller.learner.next_suggestion}
    return [Shortcut(name, KEYS[name].key, KEYS[name].description, actions[name]) for name in REVIEW]


def model_text(info: dict, device: str) -> str:
    """The panel's line for a loaded classifier, e.g. ``"demo model (resnet18, 96²) on cpu"``; the ultrasound
    one says so."""
    from labelassist.io.resources import DEMO_MODEL_US

    us = Path(info.get("path", "")).name == DEMO_MODEL_US
    name = ("ultrasound demo model" if us else "demo model") if info.get("demo") else Path(info.get("path", "?")).name
    return f"{name} ({info.get('arch')}, {info.get('input_size')}²) on {device}"


def connect_panel(controller, panel) -> None:
    """Connect a :class:`~labelassist.widgets.control_panel.ControlPanel`'s requests to ``controller``'s
    actions, and the controller's and its engine's news back to the panel."""
    panel.params_edited.connect(lambda d: controller.set_params(**d))
    panel.load_model_requested.connect(lambda p: controller.load_model(p or None))
    panel.run_slice_requested.connect(controller.run_slice)
    panel.run_volume_requested.connect(controller.run_volume)
    panel.cancel_requested.connect(controller.cancel)
    panel.accept_requested.connect(controller.accept)
    panel.reject_requested.connect(controller.reject)
    panel.next_requested.connect(controller.next_unreviewed)
    panel.calibrate_requested.connect(controller.calibrate)
    panel.propagate_requested.connect(controller.propagate)
    panel.accept_suggestion_requested.connect(controller.accept_suggestion)
    panel.set_propagate_available(True)
    panel.export_requested.connect(lambda p: controller.export(p or None, confirm=panel.confirm))
    panel.slice_clicked.connect(controller.show_slice)
    panel.lesion_clicked.connect(controller.mark_lesion)
    controller.message.connect(panel.show_message)
    controller.engine.busy_changed.connect(panel.set_busy)
    controller.engine.progress.connect(panel.show_job_progress)
    panel.set_shortcut_hints({k: v for k, v in SHORTCUT_KEYS.items()})
    panel.set_params(asdict(controller.engine.params))
