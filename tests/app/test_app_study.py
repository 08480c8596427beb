"""The study list in the app: a folder's volumes with their states, Next volume, the list after a restart."""

import pytest
from qtpy.QtCore import Qt

pytestmark = pytest.mark.gui


@pytest.fixture
def study(tmp_path):
    from labelassist.engine.testing import make_test_volume

    folder = tmp_path / "study"
    folder.mkdir()
    for k in range(3):
        make_test_volume(folder / f"case{k}.nii.gz", seed=k)
    return folder


def test_the_study_list_shows_states_next_volume_and_survives_a_restart(make_window, study, qtbot):
    w = make_window()
    assert w.study.set_study(study)
    assert [w.study.list.item(i).text() for i in range(3)] == [f"○ case{k}.nii.gz: untouched" for k in range(3)]
    with qtbot.waitSignal(w.volume_loaded, timeout=60_000):
        w.study.next_volume()  # nothing open yet: the first volume
    assert w.path.name == "case0.nii.gz"
    qtbot.keyClick(w.view.canvas, Qt.Key.Key_A)  # accept one slice
    assert w.study.list.item(0).text() == "◐ case0.nii.gz: in review, 1 of 6 slices"
    with qtbot.waitSignal(w.volume_loaded, timeout=60_000):
        w.study.next_volume()
    assert w.path.name == "case1.nii.gz"
    from labelassist.widgets.training import TrainDialog

    dialog = TrainDialog(w)  # File > Train may add the study's other volumes (their saved sessions)
    qtbot.addWidget(dialog)
    assert [p.name for p in dialog.others][:2] == ["case0.nii.gz", "case2.nii.gz"]
    w.controller.export()
    assert w.study.entries[1].state == "exported"
    w.close()
    w.controller.sessions.flush()

    w2 = make_window()  # the list is back, with each volume's state from its session
    texts = [w2.study.list.item(i).text() for i in range(3)]
    assert texts == ["◐ case0.nii.gz: in review, 1 of 6 slices", "● case1.nii.gz: exported, 0 of 6 slices",
                     "○ case2.nii.gz: untouched"]
    with qtbot.waitSignal(w2.volume_loaded, timeout=60_000):
        w2.study.next_volume()
    assert w2.path.name == "case0.nii.gz"  # not exported yet: first in the list
