"""The standalone PySide6 app: slice canvas, painting tools, menus, over the shared engine and widgets.

``labelassist app [FILE]`` (or ``labelassist-app``) opens :class:`~labelassist.app.window.MainWindow`.
"""

__all__: list[str] = []
