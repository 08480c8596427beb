"""The file formats: the table of every format read and written (:mod:`.table`), each format's reader and
writer (NIfTI, DICOM files and series, ITK's formats, nibabel's, 2-D images), and the checks every reader makes
before it trusts a file (:mod:`.sniff`: magic bytes; :mod:`.limits`: memory; :mod:`.quiet`: C libraries' logs).

Nothing is imported here: ``import labelassist.io.formats.nifti`` imports NIfTI's module alone.
"""
