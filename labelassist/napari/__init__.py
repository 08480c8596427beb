"""The napari plugin: npe2 manifest (``napari.yaml``), LabelAssist dock widget, reader, writer, samples."""
