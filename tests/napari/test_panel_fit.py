"""The LabelAssist dock fits napari's window at 1600 x 1000: every button and slider value is visible, with no
horizontal scroll bar (issue: Run volume, Cancel, Next and Export as... were hidden on the right)."""

import pytest
from qtpy.QtWidgets import QAbstractButton, QScrollArea

pytestmark = pytest.mark.gui


def _ancestors(widget):
    while widget is not None:
        yield widget
        widget = widget.parentWidget()


def test_the_dock_fits_at_1600_by_1000(make_napari_viewer, qtbot, tiny_model, volume_path, tmp_path, monkeypatch):
    monkeypatch.setenv("LABELASSIST_DATA_DIR", str(tmp_path / "data"))
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1600, 1000)  # noqa: SLF001 - napari has no public resize
    viewer.open(str(volume_path), plugin="labelassist")
    _, widget = viewer.window.add_plugin_dock_widget("labelassist", "LabelAssist")  # as a user opens it
    try:
        qtbot.waitUntil(lambda: widget.controller.volume is not None, timeout=60_000)
        widget.controller.go_to(3)
        widget.controller.say("Exported to " + "/".join(["a_rather_long_folder_name"] * 8) + "/scan_labels.nii.gz")
        qtbot.wait(300)
        scrolls = [w for w in _ancestors(widget) if isinstance(w, QScrollArea)] + widget.findChildren(QScrollArea)
        assert scrolls
        assert all(not s.horizontalScrollBar().isVisible() for s in scrolls)
        buttons = [b for b in widget.findChildren(QAbstractButton) if b.isVisible()]
        assert len(buttons) >= 10
        shown = {b.text(): b.visibleRegion().boundingRect().width() for b in buttons}
        cut = [b.text() for b in buttons if 0 < shown[b.text()] < b.width()]  # (the collapsed More shows 0)
        assert cut == []
        for name in ("Run volume", "Cancel", "Export as...", "Open volume..."):
            assert shown.get(name, 0) > 0, (name, shown)
        assert any(t.startswith("Next") and w > 0 for t, w in shown.items())
        assert widget.width() >= widget.minimumSizeHint().width()
    finally:
        widget.close_review()


def test_a_long_message_is_one_line_and_never_moves_the_buttons(qtbot):
    from labelassist.widgets.control_panel import ControlPanel

    panel = ControlPanel()
    qtbot.addWidget(panel)
    panel.resize(260, 900)
    panel.show()
    qtbot.waitExposed(panel)
    before = panel.message.height(), panel.message.sizeHint().height()
    text = "A long message naming /a/very/long/path/" + "x" * 300 + " and what to do about it"
    panel.show_message(text, error=True)
    qtbot.wait(50)
    assert (panel.message.height(), panel.message.sizeHint().height()) == before  # one line, as before
    assert panel.message.text() == text and panel.message.toolTip() == text  # the whole of it, on hover
