"""Shared test set-up: deterministic, off the network, the fixtures every folder shares, no X server -> GUI tests skip,
and a failed test stops the engines it left running (else garbage collection aborts the run later, in any folder).

The test session is one of labelassist's entry points: like ``labelassist.cli.main`` it sets up what torch needs
(:func:`labelassist.engine.keep_triton_out`) before any test imports torch, whatever the order of the folders.
"""

import contextlib
import gc
import os
import subprocess
import sys

import numpy as np
import pytest

from labelassist.engine import keep_triton_out

os.environ.setdefault("MPLBACKEND", "Agg")
keep_triton_out()


@pytest.fixture(scope="session", autouse=True)
def _own_data_folder(tmp_path_factory):
    """The test session's own user data folder (exports of read-only sources, layers without a file, samples,
    the study list): never the real one's, never the working directory."""
    if os.environ.get("LABELASSIST_DATA_DIR"):
        yield
        return
    os.environ["LABELASSIST_DATA_DIR"] = str(tmp_path_factory.mktemp("user-data"))
    yield
    os.environ.pop("LABELASSIST_DATA_DIR", None)

_INSTALL = "install one with `sudo apt-get install xvfb libxcb-icccm4 libxcb-keysyms1` to run the GUI tests"
NO_X_SERVER = f"no X server: {_INSTALL}"


# -- fixtures shared by the folders (app, engine, napari, widgets) ------------------------------------------------


@pytest.fixture
def other_value():
    """``other_value(spec)``: a valid value of a pipeline parameter other than its default."""

    def other(spec):
        if spec.choices is not None:
            return next(c for c in spec.choices if c != spec.default)
        if spec.type is bool:
            return not spec.default
        return spec.default + (0.25 if spec.type is float else 1)

    return other


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A random ResNet18 classifier checkpoint (64 px input), written once per session."""
    from labelassist.engine.testing import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt")


@pytest.fixture
def volume_path(tmp_path):
    """A 6 x 64 x 64 NIfTI volume with a bright disc on every slice (2 x 2 x 3 mm voxels, offset origin)."""
    from labelassist.engine.testing import make_test_volume

    return make_test_volume(tmp_path / "vol.nii.gz")


@pytest.fixture
def volume(volume_path):
    """:func:`volume_path`, loaded."""
    from labelassist.io import load_volume

    return load_volume(volume_path)


# -- no X server: skip the tests that need Qt instead of letting Qt abort the whole run ---------------------------

_GUI_PROBLEM = pytest.StashKey[object]()


def _needs_qt(item) -> bool:
    """Marked ``gui``, or uses a Qt application (pytest-qt's ``qapp``; ``qtbot`` and napari's viewers need it)."""
    return item.get_closest_marker("gui") is not None or "qapp" in getattr(item, "fixturenames", ())


def _qt_start_problem() -> str | None:
    """None when a Qt application starts on this display; else one line on why not (Qt aborts the process)."""
    code = "from qtpy.QtWidgets import QApplication\napp = QApplication([])\nprint('ok')\n"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "Qt did not start within 120 s"
    if out.returncode == 0 and "ok" in out.stdout.split():
        return None
    lines = [ln.strip() for ln in out.stderr.splitlines() if ln.strip()]
    return next((ln for ln in lines if "could not" in ln.lower()), lines[0] if lines else f"exit code {out.returncode}")


def _gui_problem(config) -> str | None:
    """Why GUI tests cannot run here (None: they can), found once per session, when the first one is set up.

    By then pytest-xvfb has started Xvfb and set DISPLAY if it could; without Xvfb it only prints a note
    (or it is turned off with ``-p no:xvfb`` / ``--no-xvfb``), and with no DISPLAY Qt would abort the process.
    """
    if _GUI_PROBLEM not in config.stash:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            problem = NO_X_SERVER
        else:
            why = _qt_start_problem()
            problem = None if why is None else f"no X server Qt can use ({why}): {_INSTALL}"
        config.stash[_GUI_PROBLEM] = problem
    return config.stash[_GUI_PROBLEM]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # Skipped here (not by adding a mark) so that the summary shows the reason once, not once per file.
    if _needs_qt(item):
        problem = _gui_problem(item.config)
        if problem:
            pytest.skip(problem)


# -- a failed test stops the engines it left running ----------------------------------------------------------------
# A test that fails before its fixtures shut their engine down leaves the engine's thread running, its objects held
# by the traceback. When the next failure (or any garbage collection) frees them, Qt destroys a running QThread:
# "QThread: Destroyed while thread is still running" aborts the whole process, tests of other folders included,
# depending on the order the folders run in. So after a failed test, its engines are stopped (``shutdown`` is
# idempotent; passing tests leave none running).

_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        item.stash[_FAILED] = True
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    engines = _engines_in_memory() if item.stash.get(_FAILED, False) else []  # held through the fixtures' teardown
    try:
        return (yield)
    finally:
        for engine in engines:
            with contextlib.suppress(RuntimeError):  # its Qt object is gone already: so is its thread
                engine.shutdown()


def _engines_in_memory() -> list:
    engine_module = sys.modules.get("labelassist.engine.engine")  # not imported: no engine was made
    if engine_module is None:
        return []
    return [obj for obj in gc.get_objects() if isinstance(obj, engine_module.Engine)]


_EXIT = {}


def pytest_sessionfinish(session, exitstatus):
    _EXIT["status"] = int(exitstatus)


# No spare references to ``None`` are given here: with PySide6-Essentials 6.12.0 excluded (pyproject.toml), a napari
# viewer loses none, and tests/app/test_refcount.py fails if the binding drops them again.


def pytest_unconfigure(config):
    """Leave without the interpreter's final garbage collection once pytest is done (its report printed, Xvfb
    stopped): after many napari viewers in one process, a C extension's refcount error aborts that collection
    ("none_dealloc", exit 134) although every test passed. Nothing of ours runs at that point."""
    if "status" in _EXIT and os.environ.get("LABELASSIST_TEST_FINALIZE") != "1":
        xvfb = sys.modules.get("pytest_xvfb")
        if xvfb is not None:
            xvfb.shutdown_xvfb()  # what its atexit handler would do
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT["status"])
