"""The wheel ships the demo classifier (issue 16): ``setup.py`` copies the repository's ``resources/`` into the
built package as ``labelassist/resources/``, and :mod:`labelassist.io.resources` finds it in an installed copy.

The build runs offline (``--no-build-isolation --no-index``: the venv's setuptools) on a copy of the sources in
``tmp_path``, so it leaves nothing (``build/``, ``*.egg-info``) in the working tree.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from labelassist.io import resources

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / resources.DEMO_MODEL
SOURCES = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md"]


def _need_build_tools():
    if not (ROOT / "setup.py").is_file() or not (ROOT / "pyproject.toml").is_file():
        pytest.skip("not a source checkout (no setup.py / pyproject.toml beside the package)")
    if not DEMO.is_file():
        pytest.skip(f"no demo model at {DEMO}: nothing to ship")
    for module in ("pip", "setuptools"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: cannot build a wheel offline (--no-build-isolation)")


def _copy_sources(dest: Path) -> Path:
    """The files a build reads, copied (the package without caches, resources/) to ``dest``."""
    dest.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "resources")
    shutil.copytree(ROOT / "labelassist", dest / "labelassist", ignore=ignore)
    shutil.copytree(ROOT / "resources", dest / "resources")
    return dest


def _run(cmd, cwd, timeout=120, **kw):
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    env.pop("LABELASSIST_RESOURCES", None)
    env.update(kw.pop("env", {}))
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, **kw)


def _build_wheel(src: Path, out: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(out),
           str(src)]
    res = _run(cmd, cwd=src.parent, timeout=180)
    if res.returncode != 0 and "invalid command 'bdist_wheel'" in res.stdout + res.stderr:
        pytest.skip("this setuptools cannot build wheels offline (no bdist_wheel)")
    assert res.returncode == 0, f"pip wheel failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    wheels = sorted(out.glob("labelassist-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_ships_the_demo_model_and_an_installed_copy_finds_it(tmp_path):
    _need_build_tools()
    src = _copy_sources(tmp_path / "src")
    wheel = _build_wheel(src, tmp_path / "wheel")

    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert "labelassist/resources/demo_model.pt" in names, sorted(n for n in names if "resource" in n)
        assert zf.getinfo("labelassist/resources/demo_model.pt").file_size == DEMO.stat().st_size
        assert "labelassist/resources/demo_model_us.pt" in names  # the ultrasound one too
        assert {"labelassist/napari/napari.yaml", "labelassist/py.typed", "labelassist/io/resources.py"} <= names
        site = tmp_path / "site"
        zf.extractall(site)
    # the build copied into build/, not into the (copied) working tree
    assert not (src / "labelassist" / "resources").exists()

    # an installed copy, with the repository out of reach: cwd outside it, the unpacked wheel first on the path
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    code = (
        "import labelassist, sys\n"
        "from pathlib import Path\n"
        "from labelassist.io.resources import demo_model_path, resources_dir\n"
        "print(Path(labelassist.__file__).resolve())\n"
        "print(demo_model_path().resolve())\n"
        "print(demo_model_path().is_file())\n"
        "assert 'torch' not in sys.modules\n"
    )
    res = _run([sys.executable, "-c", code], cwd=outside, timeout=60, env={"PYTHONPATH": str(site)})
    assert res.returncode == 0, res.stderr
    init, model, found = res.stdout.split()
    assert Path(init) == (site / "labelassist" / "__init__.py").resolve(), "the repository's package was imported"
    assert Path(model) == (site / "labelassist" / "resources" / "demo_model.pt").resolve()
    assert found == "True"


def test_sdist_carries_resources_and_setup_py(tmp_path):
    _need_build_tools()
    if importlib.util.find_spec("build") is None:
        pytest.skip("the 'build' package is not installed: cannot build an sdist offline")
    src = _copy_sources(tmp_path / "src")
    out = tmp_path / "sdist"
    res = _run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(out), str(src)],
               cwd=tmp_path, timeout=180)
    assert res.returncode == 0, f"build --sdist failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    (sdist,) = out.glob("labelassist-*.tar.gz")
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert {"setup.py", "MANIFEST.in", "resources/demo_model.pt", "resources/demo_model_us.pt"} <= names
    assert not any(n.startswith("labelassist/resources/") for n in names)


def test_resources_are_looked_up_env_then_package_then_repository(tmp_path, monkeypatch):
    packaged, repository = tmp_path / "pkg_resources", tmp_path / "repo_resources"
    monkeypatch.setattr(resources, "_package_dir", lambda: packaged)
    monkeypatch.setattr(resources, "_repository_dir", lambda: repository)
    monkeypatch.delenv("LABELASSIST_RESOURCES", raising=False)

    assert resources.resources_dir() == repository  # no package copy (a source checkout or editable install)
    packaged.mkdir()
    assert resources.resources_dir() == packaged  # an installed wheel
    assert resources.demo_model_path() == packaged / resources.DEMO_MODEL
    monkeypatch.setenv("LABELASSIST_RESOURCES", str(tmp_path / "mine"))
    assert resources.resources_dir() == tmp_path / "mine"  # the environment wins


def test_the_checkout_finds_the_repository_resources(monkeypatch):
    monkeypatch.delenv("LABELASSIST_RESOURCES", raising=False)
    if Path(resources.__file__).resolve().parents[2] != ROOT:
        pytest.skip("labelassist is not imported from this checkout")
    if (ROOT / "labelassist" / "resources").exists():
        pytest.skip("labelassist/resources/ exists in the working tree (left by an old build?)")
    assert resources.resources_dir() == ROOT / "resources"
    assert resources.demo_model_path() == DEMO
