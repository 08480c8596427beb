"""Reading volumes and images, writing labels: all geometry lives here."""

from labelassist.io.volume import Volume, orientation_code

__all__ = ["Volume", "orientation_code"]
