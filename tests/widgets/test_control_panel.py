"""The control panel's "Pseudo-label" box is generated from the parameter schema: a widget per parameter."""

from dataclasses import asdict, dataclass

import pytest
from qtpy.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QSpinBox
from superqt import QLabeledDoubleSlider

from labelassist.core.propose import params as schema
from labelassist.widgets.control_panel import ControlPanel


@pytest.fixture
def panel(qtbot):
    p = ControlPanel()
    qtbot.addWidget(p)
    p.show()
    qtbot.waitExposed(p)
    return p


def _label_of(widget) -> str:
    form = widget.parentWidget().layout()
    assert isinstance(form, QFormLayout)
    label = form.labelForField(widget)
    return widget.text() if label is None else label.text()


def test_every_parameter_has_the_widget_its_schema_asks_for(panel):
    specs = schema.param_specs()
    assert list(panel.param_widgets) == [s.name for s in specs]
    for s in specs:
        w = panel.param_widgets[s.name]
        assert getattr(panel, s.name) is w
        assert _label_of(w) == s.label and w.toolTip() == s.help
        if s.type is bool:
            assert isinstance(w, QCheckBox)
        elif s.choices is not None:
            assert isinstance(w, QComboBox)
            assert [w.itemText(i) for i in range(w.count())] == [str(c) for c in s.choices]
        elif s.type is float:
            assert isinstance(w, QLabeledDoubleSlider) and (w.minimum(), w.maximum()) == s.range
        else:
            assert isinstance(w, QSpinBox) and w.minimum() == s.range[0]
            assert s.range[1] is None or w.maximum() == s.range[1]
    assert panel.params() == asdict(schema.PipelineParams())


def test_set_params_and_params_round_trip_every_field_without_emitting(panel, qtbot, other_value):
    changed = {s.name: other_value(s) for s in schema.param_specs()}
    with qtbot.assertNotEmitted(panel.params_edited):
        panel.set_params({**changed, "not_a_parameter": 1})
    assert panel.params() == changed and panel.message.text() == ""
    assert panel.params() == asdict(schema.PipelineParams(**changed))  # every value is valid, of its type
    panel.set_params({"threshold": 0.25})
    assert panel.params() == {**changed, "threshold": 0.25}


def test_a_user_edit_emits_the_parameter_with_the_schemas_type(panel, qtbot):
    edits = [(panel.cam_stride.setCurrentText, "16", {"cam_stride": 16}),
             (panel.threshold.setValue, 0.9, {"threshold": 0.9}),
             (panel.n_segments.setValue, 300, {"n_segments": 300}),
             (panel.fill_holes.setChecked, True, {"fill_holes": True}),
             (panel.fit.setChecked, False, {"fit": False})]
    for edit, value, expected in edits:
        with qtbot.waitSignal(panel.params_edited, timeout=1000) as blocker:
            edit(value)
        assert blocker.args == [expected]


def test_a_value_the_schema_rejects_shows_its_one_line_message(panel):
    panel.set_params({"threshold": 0.3})
    panel.set_params({"threshold": 1.5, "n_segments": 1})
    assert panel.threshold.value() == pytest.approx(0.3) and panel.n_segments.value() == 200
    assert panel.message.text() == "n_segments must be at least 2, got 1"


def test_advanced_parameters_wait_in_the_collapsed_more_section(panel, qtbot):
    advanced = [s.name for s in schema.param_specs() if s.advanced]
    assert set(advanced) == {"uss_cnn", "min_size", "fill_holes", "largest_only"}
    basic = [s.name for s in schema.param_specs() if not s.advanced]
    assert not panel.more.isExpanded()
    assert all(panel.param_widgets[n].visibleRegion().isEmpty() for n in advanced)
    assert not any(panel.param_widgets[n].visibleRegion().isEmpty() for n in basic)
    panel.more.expand(animate=False)
    qtbot.waitUntil(lambda: not any(panel.param_widgets[n].visibleRegion().isEmpty() for n in advanced), timeout=2000)


@dataclass(frozen=True)
class Extended(schema.PipelineParams):
    smoothing: float = schema.param(0.25, stage="fit", label="Smoothing", range=(0.0, 2.0), step=0.05,
                                    help="Blur the CAM before the threshold.")
    radius: float = schema.param(1.5, stage="fit", label="Radius", range=(0.5, None), advanced=True,
                                 help="Radius of the blur.")
    tag: str = schema.param("a", stage="fit", label="Tag", help="A free word.")


def test_a_field_added_to_the_schema_appears_in_the_panel(monkeypatch, qtbot):
    monkeypatch.setattr(schema, "PipelineParams", Extended)
    panel = ControlPanel()
    qtbot.addWidget(panel)
    slider, spin = panel.param_widgets["smoothing"], panel.param_widgets["radius"]
    assert isinstance(slider, QLabeledDoubleSlider) and (slider.minimum(), slider.maximum()) == (0.0, 2.0)
    assert _label_of(slider) == "Smoothing" and slider.toolTip() == "Blur the CAM before the threshold."
    assert isinstance(spin, QDoubleSpinBox) and spin.minimum() == 0.5
    assert spin.parentWidget() is not slider.parentWidget()  # advanced: in "More"
    assert panel.params() == asdict(Extended())
    panel.set_params({"smoothing": 1.0, "radius": 3.0, "tag": "b"})
    assert panel.params() == asdict(Extended(smoothing=1.0, radius=3.0, tag="b"))
    with qtbot.waitSignal(panel.params_edited, timeout=1000) as blocker:
        slider.setValue(0.5)
    assert blocker.args == [{"smoothing": 0.5}]
