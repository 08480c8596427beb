"""Importing labelassist changes nothing in the host process (napari's, a notebook's); only labelassist's own entry
points set up what torch needs (``labelassist.engine.keep_triton_out``). Each check runs in a fresh interpreter:
this test session has set up its own process already (tests/conftest.py)."""

import json
import subprocess
import sys

REPORT = (
    "import json, sys\n"
    "print(json.dumps({\n"
    "    'blocked': sorted(n for n, m in sys.modules.items() if m is None and n.split('.')[0] == 'triton'),\n"
    "    'torch': 'torch' in sys.modules,\n"
    "    'triton': 'triton' in sys.modules,\n"
    "}))\n"
)


def _run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code + REPORT], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_library_leaves_triton_alone():
    # labelassist.engine's Engine brings torch and torchvision (which import triton where it is installed)
    seen = _run(
        "import labelassist.io\n"
        "import labelassist.core.propose.pipeline\n"
        "import labelassist.engine\n"
        "from labelassist.engine import Engine\n"
    )
    assert seen["torch"], "the imports above should have loaded torch (through Engine)"
    assert seen["blocked"] == [], f"importing labelassist made {seen['blocked']} absent for the whole process"


def test_importing_io_does_not_import_torch():
    seen = _run("import labelassist.io\n")
    assert not seen["torch"], "import labelassist.io imported torch"
    assert not seen["triton"] and seen["blocked"] == []


def test_the_command_line_keeps_triton_out_before_torch(tmp_path):
    # The entry point sets it up, before a command imports torch (here `info`, which needs no torch at all).
    from labelassist.engine.testing import make_test_volume

    path = make_test_volume(tmp_path / "vol.nii.gz")
    seen = _run(f"from labelassist.cli import main\nassert main(['info', {str(path)!r}]) == 0\n")
    assert seen["blocked"] == ["triton"]


def test_the_napari_plugin_changes_nothing_until_its_widget_opens():
    # napari imports the plugin package to run any contribution (reader, writer, samples, widget)
    seen = _run("import labelassist.napari, labelassist.napari._reader, labelassist.napari._writer\n")
    assert seen["blocked"] == [] and not seen["torch"]


def test_the_napari_widget_keeps_triton_out_before_torch():
    # the widget command's module (labelassist.napari._widget) is the entry point: triton is blocked before torch
    # loads (torch itself loads with the dock's engine, not with the module)
    seen = _run("import labelassist.napari._widget\n")
    assert seen["blocked"] == ["triton"]
    seen = _run("import labelassist.napari._widget\nfrom labelassist.engine import Engine\n")
    assert seen["blocked"] == ["triton"] and seen["torch"]
