import numpy as np
import pytest

from labelassist.core.evaluate.metrics import dice, evaluate, slice_dice
from labelassist.errors import ParameterError


def test_hand_computed_values():
    truth = np.zeros((2, 4, 5), bool)
    pred = np.zeros((2, 4, 5), bool)
    truth[0, :2, :2] = True  # 4 voxels
    pred[0, :2, :3] = True  # 6 voxels: TP 4, FP 2
    pred[1, 3, 4] = True  # FP 1 on a slice without lesion
    m = evaluate(pred, truth)
    tp, fp, fn, tn = 4, 3, 0, 40 - 7
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (tp, fp, fn, tn)
    iou_l, iou_b = tp / (tp + fp + fn), tn / (tn + fn + fp)
    assert m["iou_lesion"] == pytest.approx(iou_l) and m["iou_background"] == pytest.approx(iou_b)
    assert m["miou"] == pytest.approx((iou_l + iou_b) / 2)
    assert m["dsc"] == pytest.approx(2 * m["miou"] / (1 + m["miou"]))
    assert m["dice_volume"] == pytest.approx(8 / 11)
    assert m["dice_slice_mean"] == pytest.approx((8 / 10 + 0.0) / 2)  # slice 1: pred only -> 0
    assert m["mfp"] == pytest.approx(3 / 4) and m["mfn"] == 0


def test_empty_masks():
    empty = np.zeros((3, 4, 4), bool)
    m = evaluate(empty, empty)
    assert m["dice_volume"] == 1.0 and m["dice_slice_mean"] is None and m["n_slices_scored"] == 0
    assert m["mfp"] is None and m["mfn"] is None
    assert m["miou"] == 1.0
    assert dice(empty, empty) == 1.0 and slice_dice(empty, empty) == []


def test_several_volumes_pool_the_paper_metric_and_average_dice():
    a = np.zeros((1, 2, 2), bool)
    a[0, 0, 0] = True
    b = np.zeros((1, 2, 2), bool)
    m = evaluate([a, a], [a, b])
    assert m["n_volumes"] == 2 and m["dice_volume_mean"] == pytest.approx(0.5)
    assert m["tp"] == 1 and m["fp"] == 1


def test_shape_mismatch_names_both():
    with pytest.raises(ParameterError, match=r"prediction has shape \(2, 2\) but truth has shape \(3, 3\)"):
        evaluate(np.zeros((2, 2)), np.zeros((3, 3)))


def test_per_slice_dice_skips_slices_empty_in_both_and_a_clean_volume_scores_one():
    truth = np.zeros((3, 4, 4), bool)
    pred = np.zeros((3, 4, 4), bool)
    truth[0, :2, :2] = True  # 4 voxels
    pred[0, :2, :1] = True  # 2 of them: Dice 2*2/(4+2)
    truth[2, 0, 0] = True  # missed entirely: Dice 0, FN 1
    clean = np.zeros((2, 4, 4), bool)
    m = evaluate([pred, clean], [truth, clean])
    assert m["n_slices_scored"] == 2  # slice 1 and the clean volume are skipped
    assert m["dice_slice_mean"] == pytest.approx((4 / 6 + 0.0) / 2)
    assert m["dice_volume_mean"] == pytest.approx((2 * 2 / (5 + 2) + 1.0) / 2)  # the clean volume counts 1.0
    assert m["mfp"] == 0 and m["mfn"] == pytest.approx(3 / 2)  # FN 3 (2 on slice 0, 1 on slice 2), TP 2


def test_result_is_json():
    import json

    a = np.zeros((2, 3, 3), np.uint8)
    a[0, 1, 1] = 1
    m = evaluate(a, np.zeros_like(a))  # TP 0: mFP, mFN undefined -> None
    back = json.loads(json.dumps(m))
    assert back == m and m["mfp"] is None and m["dice_volume"] == 0.0
    assert all(v is None or type(v) in (int, float) for v in m.values())


def test_volume_count_mismatch():
    a = np.zeros((1, 2, 2))
    with pytest.raises(ParameterError, match="got 2 predicted volumes but 1 truths"):
        evaluate([a, a], [a])
