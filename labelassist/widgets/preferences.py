"""What both frontends remember for the user: one INI file (QSettings), shared by the app and the napari plugin.

``LABELASSIST_APP_SETTINGS`` names the file (tests); otherwise it is the user's Qt settings location
(``labelassist/app.ini``). The app keeps its recent files there too (:mod:`labelassist.app.settings`).
"""

from __future__ import annotations

import os

from qtpy.QtCore import QSettings

__all__ = ["user_settings", "convention", "set_convention", "study", "set_study"]

_CONVENTIONS = ("radiological", "neurological")


def user_settings(path=None) -> QSettings:
    """The settings file: ``path``, else ``LABELASSIST_APP_SETTINGS``, else the user's."""
    path = path or os.environ.get("LABELASSIST_APP_SETTINGS")
    if path:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "labelassist", "app")


def convention(settings: QSettings | None = None) -> str:
    """The display convention: ``"radiological"`` (default: the patient's right on the screen's left) or
    ``"neurological"``."""
    value = str((settings or user_settings()).value("convention", "radiological") or "radiological")
    return value if value in _CONVENTIONS else "radiological"


def set_convention(value: str, settings: QSettings | None = None) -> None:
    if value not in _CONVENTIONS:
        raise ValueError(f"convention must be one of {', '.join(_CONVENTIONS)}; got {value!r}")
    settings = settings or user_settings()
    settings.setValue("convention", value)
    settings.sync()


def study(settings: QSettings | None = None) -> str:
    """The study list open at the last exit (a folder or CSV), or ``""``."""
    return str((settings or user_settings()).value("study", "") or "")


def set_study(path: str, settings: QSettings | None = None) -> None:
    settings = settings or user_settings()
    settings.setValue("study", str(path))
    settings.sync()
