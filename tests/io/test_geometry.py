"""A label voxel lands on the same world point as its source voxel, read back by nibabel AND SimpleITK."""

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from labelassist.io import load_volume, save_labels

SHAPE_IJK = (6, 7, 8)  # nibabel order (i, j, k)
PLANTED = [(1, 2, 3), (4, 0, 5), (7, 6, 0)]  # array indices (z, y, x) = (k, j, i)


def _rot(ax, deg):
    t = np.deg2rad(deg)
    c, s = np.cos(t), np.sin(t)
    m = {0: [[1, 0, 0], [0, c, -s], [0, s, c]], 1: [[c, 0, s], [0, 1, 0], [-s, 0, c]], 2: [[c, -s, 0], [s, c, 0], [0, 0, 1]]}
    return np.array(m[ax], float)


def _affine(linear, origin=(10.0, -20.0, 5.0)):
    a = np.eye(4)
    a[:3, :3] = linear
    a[:3, 3] = origin
    return a


AFFINES = {
    "axis-aligned RAS": _affine(np.diag([1.5, 2.0, 3.0])),
    "flipped LPS": _affine(np.diag([-1.5, -2.0, 3.0])),
    "permuted LSA": _affine(np.array([[-2.0, 0, 0], [0, 0, 1.0], [0, 2.5, 0]])),
    "oblique": _affine(_rot(0, 20) @ _rot(2, -35) @ np.diag([1.2, 0.9, 2.5])),
}


def _world_itk(path):
    """World RAS points of the non-zero voxels, read by SimpleITK (which speaks LPS)."""
    img = sitk.ReadImage(str(path))
    arr = sitk.GetArrayFromImage(img)
    pts = []
    for zyx in np.argwhere(arr > 0):
        lps = img.TransformIndexToPhysicalPoint([int(v) for v in zyx[::-1]])
        pts.append(np.array(lps) * [-1, -1, 1])
    return np.array(sorted(map(tuple, pts)))


def _world_nib(path):
    img = nib.load(str(path))
    ijk = np.argwhere(np.asanyarray(img.dataobj) > 0)
    return np.array(sorted(map(tuple, nib.affines.apply_affine(img.affine, ijk))))


def _expected(volume):
    return np.array(sorted(map(tuple, volume.voxel_to_world(np.array(PLANTED)))))


def _labels(volume):
    lab = np.zeros(volume.shape, np.uint8)
    for p in PLANTED:
        lab[p] = 1
    return lab


def _nifti(tmp_path, affine, *, qcode=1, scode=1, name="src.nii.gz"):
    data = np.random.default_rng(0).random(SHAPE_IJK).astype(np.float32)
    hdr = nib.Nifti1Header()
    hdr.set_data_shape(data.shape)
    hdr.set_qform(affine, code=qcode)
    hdr.set_sform(affine, code=scode)
    path = tmp_path / name
    nib.save(nib.Nifti1Image(data, None, header=hdr), str(path))
    written = nib.load(str(path)).header
    assert (int(written["qform_code"]), int(written["sform_code"])) == (qcode, scode)
    return path, data


@pytest.mark.parametrize("name", AFFINES)
def test_nifti_labels_lie_on_the_source(tmp_path, name):
    src, data = _nifti(tmp_path, AFFINES[name])
    vol = load_volume(src)
    assert vol.array[1, 2, 3] == data[3, 2, 1]  # array[k, j, i] == nibabel[i, j, k]
    np.testing.assert_allclose(vol.affine, nib.load(str(src)).affine)
    out = save_labels(_labels(vol), tmp_path / "labels.nii.gz", like=vol)
    np.testing.assert_allclose(_world_nib(out), _expected(vol), atol=1e-3)
    np.testing.assert_allclose(_world_itk(out), _expected(vol), atol=1e-3)


@pytest.mark.parametrize("name, code", [("axis-aligned RAS", "RAS"), ("flipped LPS", "LPS"), ("permuted LSA", "LSA")])
def test_orientation_codes(tmp_path, name, code):
    src, _ = _nifti(tmp_path, AFFINES[name])
    assert load_volume(src).orientation == code


@pytest.mark.parametrize("qcode, scode", [(0, 2), (1, 0), (1, 4)], ids=["sform-only", "qform-only", "both"])
def test_qform_and_sform_and_codes_survive(tmp_path, qcode, scode):
    aff = AFFINES["oblique"]
    src, _ = _nifti(tmp_path, aff, qcode=qcode, scode=scode)
    vol = load_volume(src)
    out = save_labels(_labels(vol), tmp_path / "labels.nii", like=vol)
    a, b = nib.load(str(src)).header, nib.load(str(out)).header
    assert int(b["qform_code"]) == qcode and int(b["sform_code"]) == scode
    np.testing.assert_allclose(b.get_qform(), a.get_qform(), atol=1e-5)
    np.testing.assert_allclose(b.get_sform(), a.get_sform(), atol=1e-5)
    assert b.get_data_dtype() == np.uint8
    np.testing.assert_allclose(_world_nib(out), _expected(vol), atol=1e-3)
    np.testing.assert_allclose(_world_itk(out), _expected(vol), atol=1e-3)


def _itk_image(linear, origin_lps):
    arr = np.random.default_rng(1).integers(0, 1000, size=SHAPE_IJK[::-1]).astype(np.int16)
    img = sitk.GetImageFromArray(arr)
    spacing = np.sqrt((linear**2).sum(axis=0))
    img.SetSpacing(tuple(spacing))
    img.SetDirection(tuple((linear / spacing).ravel()))
    img.SetOrigin(tuple(origin_lps))
    return img, arr


@pytest.mark.parametrize("name", ["axis-aligned RAS", "oblique"])
@pytest.mark.parametrize("ext", [".nrrd", ".mha", ".mhd"])
def test_itk_formats_lie_on_the_source(tmp_path, name, ext):
    img, arr = _itk_image(AFFINES[name][:3, :3], (3.0, -4.0, 12.0))
    src = tmp_path / f"src{ext}"
    sitk.WriteImage(img, str(src))
    vol = load_volume(src)
    np.testing.assert_array_equal(vol.array, arr.astype(np.float32))
    # the source's own voxel, seen by ITK, in RAS
    lps = np.array(img.TransformIndexToPhysicalPoint((3, 2, 1)))
    np.testing.assert_allclose(vol.voxel_to_world(np.array([1, 2, 3])), lps * [-1, -1, 1], atol=1e-4)
    for out_name in ("labels.nii.gz", "labels.mha" if ext == ".mhd" else f"labels{ext}"):
        out = save_labels(_labels(vol), tmp_path / out_name, like=vol)
        np.testing.assert_allclose(_world_itk(out), _expected(vol), atol=1e-3)
        if out_name.endswith(".nii.gz"):
            np.testing.assert_allclose(_world_nib(out), _expected(vol), atol=1e-3)


def _write_dicom_series(folder, linear, origin_lps, *, n=5, uid="1.2.826.0.1.3680043.2.1125.1"):
    folder.mkdir()
    spacing = np.sqrt((linear**2).sum(axis=0))
    d = linear / spacing
    row, col, normal = d[:, 0], d[:, 1], d[:, 2]
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(n):
        arr = np.full((7, 6), 100 + k, np.int16)[None]
        img = sitk.GetImageFromArray(arr)
        pos = np.asarray(origin_lps) + normal * spacing[2] * k
        tags = {
            "0008|0060": "MR",
            "0020|000d": "1.2.826.0.1.3680043.2.1125.9",
            "0020|000e": uid,
            "0020|0013": str(k + 1),
            "0020|0032": "\\".join(f"{v:.6f}" for v in pos),
            "0020|0037": "\\".join(f"{v:.6f}" for v in (*row, *col)),
            "0028|0030": f"{spacing[1]:.6f}\\{spacing[0]:.6f}",
            "0018|0050": f"{spacing[2]:.6f}",
            "0008|0018": f"{uid}.{k + 1}",
        }
        for key, value in tags.items():
            img.SetMetaData(key, value)
        writer.SetFileName(str(folder / f"IM{k:03d}.dcm"))
        writer.Execute(img)
    return folder


@pytest.mark.parametrize("name", ["axis-aligned RAS", "oblique"])
def test_dicom_series_labels_lie_on_the_source(tmp_path, name):
    linear = AFFINES[name][:3, :3] @ np.diag([1, 1, 1])
    folder = _write_dicom_series(tmp_path / "series", linear, (-50.0, 30.0, 7.0))
    vol = load_volume(folder)
    assert vol.format == "dicom-series" and vol.shape == (5, 7, 6) and vol.modality == "MR"
    assert [vol.array[k, 0, 0] for k in range(5)] == [100, 101, 102, 103, 104]
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    ref = reader.Execute()
    lps = np.array(ref.TransformIndexToPhysicalPoint((4, 3, 2)))
    np.testing.assert_allclose(vol.voxel_to_world(np.array([2, 3, 4])), lps * [-1, -1, 1], atol=1e-3)
    lab = np.zeros(vol.shape, np.uint8)
    lab[2, 3, 4] = lab[4, 6, 5] = 1
    out = save_labels(lab, tmp_path / "labels.nii.gz", like=vol)
    want = np.array(sorted(map(tuple, vol.voxel_to_world(np.array([[2, 3, 4], [4, 6, 5]])))))
    np.testing.assert_allclose(_world_nib(out), want, atol=1e-3)
    np.testing.assert_allclose(_world_itk(out), want, atol=1e-3)


def test_mixed_series_reads_the_largest_and_says_so(tmp_path):
    folder = _write_dicom_series(tmp_path / "mixed", np.eye(3), (0, 0, 0), n=4)
    other = _write_dicom_series(tmp_path / "other", np.eye(3), (0, 0, 0), n=2, uid="1.2.826.0.1.3680043.2.1125.2")
    for f in other.iterdir():
        f.rename(folder / f"B{f.name}")
    with pytest.warns(UserWarning, match="2 DICOM series.*largest \\(4 files"):
        vol = load_volume(folder)
    assert vol.shape[0] == 4


def test_multimodal_nifti_channels(tmp_path):
    data = np.random.default_rng(2).random((5, 6, 7, 3)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(tmp_path / "brats.nii.gz"))
    vol = load_volume(tmp_path / "brats.nii.gz")
    assert vol.array.shape == (7, 6, 5, 3) and vol.n_channels == 3
    np.testing.assert_array_equal(vol.array[..., 1], data[..., 1].transpose(2, 1, 0))
    one = load_volume(tmp_path / "brats.nii.gz", channel=2)
    np.testing.assert_array_equal(one.array, data[..., 2].transpose(2, 1, 0))
