"""Wiring of the control panel to the review controller, both ways (shared by the app and the napari plugin)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from labelassist.widgets.view import Shortcut

__all__ = ["connect_panel", "review_shortcuts", "model_text", "SHORTCUT_KEYS"]

SHORTCUT_KEYS = {"accept": "A", "reject": "R", "next": "N", "accept_suggestion": "S", "next_suggestion": "Shift+N"}


def review_shortcuts(controller) -> list[Shortcut]:
    """The review's keys, each bound to ``controller``'s action (both frontends install them)."""
    return [
        Shortcut("accept", SHORTCUT_KEYS["accept"], "Accept the slice's label", controller.accept),
        Shortcut("reject", SHORTCUT_KEYS["reject"], "Reject: the slice has no lesion", controller.reject),
        Shortcut("next", SHORTCUT_KEYS["next"], "Go to the next unreviewed slice", controller.next_unreviewed),
        Shortcut("accept_suggestion", SHORTCUT_KEYS["accept_suggestion"],
                 "Accept the suggested lesion on this slice (add it to the label)", controller.accept_suggestion),
        Shortcut("next_suggestion", SHORTCUT_KEYS["next_suggestion"],
                 "Go to the next suggested lesion (green outline)", controller.learner.next_suggestion),
    ]


def model_text(info: dict, device: str) -> str:
    """The panel's line for a loaded classifier, e.g. ``"demo model (resnet18, 96²) on cpu"``."""
    name = "demo model" if info.get("demo") else Path(info.get("path", "?")).name
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
    controller.message.connect(panel.show_message)
    controller.engine.busy_changed.connect(panel.set_busy)
    controller.engine.progress.connect(panel.show_job_progress)
    panel.set_shortcut_hints({k: v for k, v in SHORTCUT_KEYS.items()})
    panel.set_params(asdict(controller.engine.params))
