"""What the app remembers between runs: recent files, the last folder and the display convention (QSettings, an INI
file)."""

from __future__ import annotations

from pathlib import Path

from labelassist.widgets import preferences

__all__ = ["AppSettings", "MAX_RECENT"]

MAX_RECENT = 8


class AppSettings:
    """``LABELASSIST_APP_SETTINGS`` names the INI file (tests); otherwise the user's Qt settings location."""

    def __init__(self, path=None):
        self.qsettings = preferences.user_settings(path)

    def recent(self) -> list[Path]:
        """Recent volumes, newest first, those that still exist."""
        value = self.qsettings.value("recent", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [Path(p) for p in items if p and Path(p).exists()]

    def add_recent(self, path) -> None:
        path = str(Path(path).resolve())
        items = [str(p) for p in self.recent() if str(p) != path]
        self.qsettings.setValue("recent", [path, *items][:MAX_RECENT])
        self.qsettings.setValue("last_folder", str(Path(path).parent))
        self.qsettings.sync()

    def clear_recent(self) -> None:
        self.qsettings.setValue("recent", [])
        self.qsettings.sync()

    def last_folder(self) -> str:
        return str(self.qsettings.value("last_folder", "") or "")

    def convention(self) -> str:
        """``"radiological"`` (the default: the patient's right on the screen's left) or ``"neurological"``."""
        return preferences.convention(self.qsettings)

    def set_convention(self, convention: str) -> None:
        preferences.set_convention(convention, self.qsettings)
