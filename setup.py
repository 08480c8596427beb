"""One build step that pyproject.toml cannot express: ship the repository's ``resources/`` (the demo
classifier) inside the wheel, as ``labelassist/resources/``.

``resources/`` stays the source folder (``make demo-model`` writes it; the desktop bundle and an editable
install read it there). ``[tool.setuptools.package-data]`` cannot reach outside the package, so ``build_py``
copies the folder into the *build* tree (``build/lib/labelassist/resources/``), never into the working tree.
An editable install (``pip install -e .``, used by ``make``) copies nothing: ``labelassist.io.resources``
finds the repository's ``resources/`` there, as before. Everything else about the project is in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "resources"  # the repository's folder (in an sdist: MANIFEST.in puts it there)
TARGET = Path("labelassist", "resources")  # inside the built package


class build_py_with_resources(build_py):
    """``build_py`` that also copies ``resources/*`` into the built package's ``resources/`` folder."""

    def _resource_files(self):
        return sorted(p for p in SOURCE.iterdir() if p.is_file()) if SOURCE.is_dir() else []

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # editable: the package is the source tree; the repository's resources/ is found there
        files = self._resource_files()
        if not files:
            self.warn(f"no {SOURCE}/: the wheel has no demo model")
            return
        target = Path(self.build_lib, TARGET)
        self.mkpath(str(target))
        for path in files:
            self.copy_file(str(path), str(target / path.name))

    def get_outputs(self, include_bytecode=True):
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            outputs += [str(Path(self.build_lib, TARGET, p.name)) for p in self._resource_files()]
        return outputs


setup(cmdclass={"build_py": build_py_with_resources})
