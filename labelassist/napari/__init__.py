"""The napari plugin: npe2 manifest (``napari.yaml``), LabelAssist dock widget, reader, writer, samples.

Importing this package changes nothing in napari's process; the dock widget's module sets up what torch needs
(:mod:`labelassist.napari._widget`).
"""
