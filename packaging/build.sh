#!/bin/sh
# Build the one-folder desktop bundle and install its .desktop entry for the current user.
# Usage (repository root):  sh packaging/build.sh      -> dist/labelassist-app/labelassist-app
set -e
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
$PY -m pip install -q "pyinstaller>=6"
$PY -m PyInstaller --noconfirm --clean --distpath dist --workpath build packaging/labelassist-app.spec
du -sh dist/labelassist-app
if [ "${INSTALL_DESKTOP:-0}" = 1 ]; then
  apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
  mkdir -p "$apps"
  sed "s#^Exec=labelassist-app#Exec=$PWD/dist/labelassist-app/labelassist-app#" packaging/labelassist-app.desktop > "$apps/labelassist-app.desktop"
  echo "installed $apps/labelassist-app.desktop"
fi
