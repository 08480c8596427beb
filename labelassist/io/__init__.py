"""Reading volumes and images, writing labels: all geometry lives here."""

from labelassist.io.load import load_volume
from labelassist.io.save import save_labels, save_map
from labelassist.io.volume import Volume, orientation_code

__all__ = ["Volume", "load_volume", "save_labels", "save_map", "orientation_code"]
