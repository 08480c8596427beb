"""``labelassist eval PRED_DIR TRUTH_DIR``: pairing by name, per-volume and pooled metrics, failed rows, JSON, CSV."""

import csv
import json

import nibabel as nib
import numpy as np
import pytest

from labelassist.cli import main
from labelassist.core.evaluate.metrics import evaluate
from labelassist.io import load_volume

AFFINE = np.diag([1.0, 1.0, 2.0, 1.0])


def save(path, array, affine=AFFINE):
    img = nib.Nifti1Image(np.asarray(array, np.uint8), affine)
    img.header.set_qform(affine, code=1)
    img.header.set_sform(affine, code=1)
    nib.save(img, str(path))
    return path


def block(shape, count, start=0):
    """A mask of ``shape`` with ``count`` voxels set, from flat index ``start``."""
    a = np.zeros(int(np.prod(shape)), np.uint8)
    a[start:start + count] = 1
    return a.reshape(shape)


@pytest.fixture
def two_sizes(tmp_path):
    """Volume a (4x4x2 = 32 voxels): perfect. Volume b (10x10x10 = 1000 voxels): 5 of 10 truth voxels found,
    5 false positives. Per volume: Dice 1.0 and 0.5."""
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir(), truth.mkdir()
    save(pred / "a_labels.nii.gz", block((4, 4, 2), 4))
    save(truth / "a_mask.nii.gz", block((4, 4, 2), 4))
    save(pred / "b-0123abcd_labels.nii.gz", block((10, 10, 10), 10, start=5))
    save(truth / "b.nii.gz", block((10, 10, 10), 10))
    return pred, truth


def test_pooled_metrics_pool_the_voxels_not_the_volumes(two_sizes, capsys):
    pred, truth = two_sizes
    assert main(["eval", str(pred), str(truth), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"volumes", "pooled", "unpaired"}
    a, b = out["volumes"]
    assert (a["pred"], a["truth"]) == ("a_labels.nii.gz", "a_mask.nii.gz")
    assert (b["pred"], b["truth"]) == ("b-0123abcd_labels.nii.gz", "b.nii.gz")
    assert a["error"] is None and b["error"] is None
    assert (a["tp"], a["fp"], a["fn"], a["tn"]) == (4, 0, 0, 28) and a["dice_volume"] == 1.0 and a["miou"] == 1.0
    assert (b["tp"], b["fp"], b["fn"], b["tn"]) == (5, 5, 5, 985) and b["dice_volume"] == 0.5
    assert b["miou"] == pytest.approx((5 / 15 + 985 / 995) / 2)

    pooled = out["pooled"]
    assert (pooled["tp"], pooled["fp"], pooled["fn"], pooled["tn"]) == (9, 5, 5, 1013)
    miou = (9 / 19 + 1013 / 1023) / 2
    assert pooled["iou_lesion"] == pytest.approx(9 / 19)
    assert pooled["miou"] == pytest.approx(miou)
    assert pooled["dsc"] == pytest.approx(2 * miou / (1 + miou))
    assert pooled["dice_volume"] == pytest.approx(18 / 28)  # pooled over voxels ...
    assert pooled["dice_volume_mean"] == pytest.approx(0.75)  # ... is not the mean of 1.0 and 0.5
    assert pooled["miou"] != pytest.approx((a["miou"] + b["miou"]) / 2)
    assert pooled["n_volumes"] == 2
    assert out["unpaired"] == {"pred": [], "truth": []}

    # The same numbers as evaluate() on the list of both pairs, slices included.
    def masks(folder, names):
        return [load_volume(folder / n, labels=True).array > 0.5 for n in names]

    ref = evaluate(masks(pred, ["a_labels.nii.gz", "b-0123abcd_labels.nii.gz"]),
                   masks(truth, ["a_mask.nii.gz", "b.nii.gz"]))
    assert pooled == pytest.approx(ref)


def test_text_output_lists_each_volume_and_the_pooled_row(two_sizes, capsys):
    pred, truth = two_sizes
    assert main(["eval", str(pred), str(truth)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("a_labels.nii.gz") and "1.0000" in lines[1]
    assert lines[2].startswith("b-0123abcd_labels.nii.gz") and "0.5000" in lines[2]
    assert lines[3].startswith("pooled") and "(2 volumes)" in lines[3] and f"{18 / 28:.4f}" in lines[3]
    assert "mean per-volume foreground Dice: 0.7500" in lines


def test_pairing_with_every_truth_suffix_and_unpaired_files_listed(tmp_path, capsys):
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir(), truth.mkdir()
    m = block((3, 3, 2), 2)
    for name in ("a", "b", "c", "d", "e", "g"):
        save(pred / f"{name}_labels.nii.gz", m)
    save(pred / "h.nii.gz", m)  # a prediction without _labels pairs by its stem
    (pred / "probabilities.csv").write_text("slice,p\n")  # not a volume: ignored
    save(truth / "a_mask.nii.gz", m)
    save(truth / "a.nii.gz", m)  # the scan beside its mask: the mask wins, the scan is left over
    save(truth / "b_seg.nii", m)
    save(truth / "c_labels.nii.gz", m)
    save(truth / "d_truth.nii.gz", m)
    save(truth / "g.nii.gz", m)
    save(truth / "h_mask.nii.gz", m)
    save(truth / "f_mask.nii.gz", m)
    assert main(["eval", str(pred), str(truth), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    pairs = {(v["pred"], v["truth"]) for v in out["volumes"]}
    assert pairs == {
        ("a_labels.nii.gz", "a_mask.nii.gz"), ("b_labels.nii.gz", "b_seg.nii"),
        ("c_labels.nii.gz", "c_labels.nii.gz"), ("d_labels.nii.gz", "d_truth.nii.gz"),
        ("g_labels.nii.gz", "g.nii.gz"), ("h.nii.gz", "h_mask.nii.gz"),
    }
    assert out["unpaired"] == {"pred": ["e_labels.nii.gz"], "truth": ["a.nii.gz", "f_mask.nii.gz"]}
    assert main(["eval", str(pred), str(truth)]) == 0
    text = capsys.readouterr().out
    assert "unpaired pred: e_labels.nii.gz" in text and "unpaired truth: a.nii.gz, f_mask.nii.gz" in text


def test_a_hash_is_stripped_only_when_the_full_name_has_no_truth(tmp_path, capsys):
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir(), truth.mkdir()
    m = block((3, 3, 2), 2)
    save(pred / "case-abcdef12_labels.nii.gz", m)
    save(truth / "case-abcdef12_mask.nii.gz", m)
    save(truth / "case_mask.nii.gz", m)
    assert main(["eval", str(pred), str(truth), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [v["truth"] for v in out["volumes"]] == ["case-abcdef12_mask.nii.gz"]
    assert out["unpaired"]["truth"] == ["case_mask.nii.gz"]


def test_a_mismatched_grid_is_one_failed_row_and_exit_1(two_sizes, tmp_path, capsys):
    pred, truth = two_sizes
    save(pred / "c_labels.nii.gz", block((4, 4, 2), 3))
    save(truth / "c_mask.nii.gz", block((4, 4, 3), 3))
    table = tmp_path / "rows.csv"
    assert main(["eval", str(pred), str(truth), "--json", "--csv", str(table)]) == 1
    out = json.loads(capsys.readouterr().out)
    failed = [v for v in out["volumes"] if v["error"]]
    assert [v["pred"] for v in failed] == ["c_labels.nii.gz"]
    assert "\n" not in failed[0]["error"] and "c_labels.nii.gz" in failed[0]["error"]
    assert "does not match the truth" in failed[0]["error"]
    assert out["pooled"]["n_volumes"] == 2 and out["pooled"]["dice_volume"] == pytest.approx(18 / 28)

    with open(table, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["pred"] for r in rows] == ["a_labels.nii.gz", "b-0123abcd_labels.nii.gz", "c_labels.nii.gz", "pooled"]
    assert rows[0]["truth"] == "a_mask.nii.gz" and float(rows[0]["dice_volume"]) == 1.0 and rows[0]["error"] == ""
    assert float(rows[1]["dice_volume"]) == 0.5 and int(rows[1]["tp"]) == 5
    assert rows[2]["dice_volume"] == "" and "does not match the truth" in rows[2]["error"]
    assert float(rows[3]["dice_volume"]) == pytest.approx(18 / 28)
    assert float(rows[3]["dice_volume_mean"]) == pytest.approx(0.75) and rows[3]["n_volumes"] == "2"

    assert main(["eval", str(pred), str(truth)]) == 1
    text = capsys.readouterr().out
    assert "c_labels.nii.gz" in text and "failed: " in text and "1 of 3 pairs failed" in text


def test_a_differing_affine_is_a_failed_row(two_sizes, capsys):
    pred, truth = two_sizes
    save(pred / "c_labels.nii.gz", block((4, 4, 2), 3))
    save(truth / "c_mask.nii.gz", block((4, 4, 2), 3), affine=np.diag([2.0, 1.0, 2.0, 1.0]))
    assert main(["eval", str(pred), str(truth), "--json"]) == 1
    rows = {v["pred"]: v for v in json.loads(capsys.readouterr().out)["volumes"]}
    assert "resample one onto the other" in rows["c_labels.nii.gz"]["error"]
    assert rows["a_labels.nii.gz"]["error"] is None


def test_nothing_pairs_is_one_line_naming_both_folders(tmp_path, capsys):
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir(), truth.mkdir()
    save(pred / "a_labels.nii.gz", block((3, 3, 2), 2))
    save(truth / "z_mask.nii.gz", block((3, 3, 2), 2))
    assert main(["eval", str(pred), str(truth)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(pred) in err and str(truth) in err and "pairs with a truth" in err


def test_two_predictions_for_one_truth_is_one_line(tmp_path, capsys):
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir(), truth.mkdir()
    save(pred / "a_labels.nii.gz", block((3, 3, 2), 2))
    save(pred / "a-0123abcd_labels.nii.gz", block((3, 3, 2), 2))
    save(truth / "a_mask.nii.gz", block((3, 3, 2), 2))
    assert main(["eval", str(pred), str(truth)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "two predictions pair with it" in err and "keep one" in err


def test_a_file_and_a_folder_is_one_line(two_sizes, capsys):
    pred, truth = two_sizes
    assert main(["eval", str(pred), str(truth / "b.nii.gz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a folder but" in err and "two folders" in err
    assert main(["eval", str(pred / "a_labels.nii.gz"), str(truth)]) == 2
    assert "is a folder but" in capsys.readouterr().err


def test_single_pair_csv_writes_one_row(two_sizes, tmp_path, capsys):
    pred, truth = two_sizes
    table = tmp_path / "one.csv"
    assert main(["eval", str(pred / "a_labels.nii.gz"), str(truth / "a_mask.nii.gz"), "--csv", str(table)]) == 0
    assert "paper mIoU" in capsys.readouterr().out  # the single-pair text is unchanged
    with open(table, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1 and rows[0]["pred"] == "a_labels.nii.gz" and float(rows[0]["miou"]) == 1.0


def test_an_unwritable_csv_is_one_line(two_sizes, tmp_path, capsys):
    pred, truth = two_sizes
    target = tmp_path / "missing" / "rows.csv"
    assert main(["eval", str(pred), str(truth), "--csv", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(target) in err and "--csv" in err
