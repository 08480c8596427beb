"""labelassist batch: inputs, names, the resume rule, the task, and the command on an in-process LocalCluster."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from labelassist.batch.inputs import expand_inputs, output_names, read_path_list
from labelassist.batch.manifest import is_up_to_date, read_manifest, write_manifest
from labelassist.batch.runner import device_for_worker
from labelassist.batch.task import (BatchSpec, load_model, propose_volume, provenance_path, run_volume,
                                    write_json_atomic)
from labelassist.cli import main
from labelassist.core.nets.checkpoint import checkpoint_hash
from labelassist.core.propose.params import PipelineParams
from labelassist.engine.testing import make_test_volume
from labelassist.errors import ParameterError


def _spec(model, out_dir, **params):
    return BatchSpec(model_path=str(model), model_sha256=checkpoint_hash(model), params=PipelineParams(**params),
                     out_dir=str(out_dir), device="cpu")


# -- inputs ---------------------------------------------------------------------------------------------------


def test_folders_are_searched_recursively_and_an_image_folder_is_one_volume(tmp_path):
    import cv2

    stack = tmp_path / "in" / "stack"
    for folder in (tmp_path / "in" / "sub", stack):
        folder.mkdir(parents=True)
    a = make_test_volume(tmp_path / "in" / "a.nii.gz")
    b = make_test_volume(tmp_path / "in" / "sub" / "b.nii.gz")
    for i in range(3):
        cv2.imwrite(str(stack / f"img{i}.png"), np.full((8, 8), 40 * i, np.uint8))
    (tmp_path / "in" / "notes.txt").write_text("not a volume")
    (tmp_path / "in" / ".hidden.nii.gz").write_bytes(b"")
    found = expand_inputs([tmp_path / "in"])
    assert sorted(found) == sorted([a, b, stack])


def test_a_csv_lists_paths_relative_to_itself_with_an_optional_header(tmp_path):
    a = make_test_volume(tmp_path / "a.nii.gz")
    b = make_test_volume(tmp_path / "b.nii.gz")
    (tmp_path / "list.csv").write_text(f"path\na.nii.gz\n{b}\n\na.nii.gz\n")
    assert read_path_list(tmp_path / "list.csv") == [a, b, a]
    assert expand_inputs([tmp_path / "list.csv"]) == [a, b]  # each volume once


def test_a_missing_input_or_an_empty_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(ParameterError, match=r"INPUT .*nope: no such file or folder"):
        expand_inputs([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ParameterError, match=r"no volume labelassist reads in this folder"):
        expand_inputs([tmp_path / "empty"])
    (tmp_path / "list.csv").write_text("path\n")
    with pytest.raises(ParameterError, match=r"list of inputs holds no paths"):
        expand_inputs([tmp_path / "list.csv"])


def test_inputs_sharing_a_stem_get_distinct_output_names(tmp_path):
    names = output_names([tmp_path / "x" / "scan.nii.gz", tmp_path / "y" / "scan.nrrd", tmp_path / "other.nii"])
    assert names[2] == "other_labels.nii.gz"
    assert names[0] != names[1] and all(n.startswith("scan-") and n.endswith("_labels.nii.gz") for n in names[:2])
    assert output_names([tmp_path / "x" / "scan.nii.gz"]) == ["scan_labels.nii.gz"]


# -- the resume rule, manifest, spec ----------------------------------------------------------------------------


def test_an_output_is_up_to_date_only_with_its_provenance_and_the_same_key(tmp_path, tiny_model):
    spec = _spec(tiny_model, tmp_path)
    out = tmp_path / "v_labels.nii.gz"
    assert not is_up_to_date(out, spec.key())
    out.write_bytes(b"x")
    assert not is_up_to_date(out, spec.key())  # no provenance
    write_json_atomic({"key": spec.key()}, provenance_path(out))
    assert provenance_path(out) == tmp_path / "v_labels.json"
    assert is_up_to_date(out, spec.key())
    assert not is_up_to_date(out, _spec(tiny_model, tmp_path, threshold=0.3).key())
    provenance_path(out).write_text("{half a fi")
    assert not is_up_to_date(out, spec.key())


def test_bad_spec_and_rows_are_refused_naming_the_argument(tmp_path, tiny_model):
    with pytest.raises(ParameterError, match="segmenter_mode must be one of union, replace"):
        BatchSpec("m", "h", PipelineParams(), str(tmp_path), segmenter_mode="both")
    with pytest.raises(ParameterError, match="rows: status must be one of done, failed, skipped"):
        write_manifest([{"input": "a", "status": "ok"}], tmp_path / "m.csv")
    with pytest.raises(ParameterError, match="params must be a PipelineParams"):
        propose_volume(None, None, {}, {"threshold": 0.5})


def test_gpus_are_shared_out_one_per_worker():
    assert [device_for_worker(i, 2) for i in range(4)] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert device_for_worker("w1", 3) == device_for_worker("w1", 3).lower()
    assert device_for_worker(0, 0) is None


# -- the task ----------------------------------------------------------------------------------------------------


def test_a_worker_loads_the_model_once_per_checkpoint_and_device(tiny_model):
    sha = checkpoint_hash(tiny_model)
    first = load_model("classifier", tiny_model, sha, "cpu")
    assert load_model("classifier", tiny_model, sha, "cpu") is first
    assert load_model("classifier", tiny_model, "another-hash", "cpu") is not first


def test_the_task_turns_any_error_into_a_failed_row(tmp_path, tiny_model, monkeypatch):
    spec = _spec(tiny_model, tmp_path)
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"\x1f\x8b not gzip")
    row = run_volume(str(bad), str(tmp_path / "bad_labels.nii.gz"), spec)
    assert row["status"] == "failed" and row["error"].startswith(f"{bad}: ") and "\n" not in row["error"]
    import labelassist.batch.task as task

    def boom(*args, **kwargs):
        raise RuntimeError("out of luck\nsecond line")

    monkeypatch.setattr(task, "propose_volume", boom)
    row = run_volume(str(make_test_volume(tmp_path / "v.nii.gz")), str(tmp_path / "v_labels.nii.gz"), spec)
    assert (row["status"], row["error"]) == ("failed", "RuntimeError: out of luck")
    assert not list(tmp_path.glob("v_labels*"))


def test_a_segmenter_adds_to_boundaryfit_or_replaces_it(volume, tiny_model):
    from labelassist.core.nets.checkpoint import load_checkpoint
    from labelassist.core.propagate.training import new_segmenter

    seg = new_segmenter(1, volume.array.shape[1:3], use_cam=True, context=1, max_size=64, base_channels=4, depth=2,
                        threshold=0.5, seed=0, device="cpu")
    model, meta = load_checkpoint(tiny_model)
    params = PipelineParams(threshold=0.3, cam_shifts=1, n_segments=30)
    plain = propose_volume(volume, model, meta, params).labels
    union = propose_volume(volume, model, meta, params, segmenter=seg)
    replace = propose_volume(volume, model, meta, params, segmenter=seg, segmenter_mode="replace")
    assert np.array_equal(union.labels, plain | union.segmenter_masks)
    assert np.array_equal(replace.labels, replace.segmenter_masks)
    assert union.labels.dtype == np.uint8 and union.labels.shape == volume.array.shape[:3]


# -- the command on a LocalCluster ------------------------------------------------------------------------------


def test_batch_matches_run_keeps_geometry_reports_failures_and_resumes(tmp_path, tiny_model, capsys):
    (tmp_path / "in").mkdir()
    vols = [make_test_volume(tmp_path / "in" / f"v{i}.nii.gz", seed=i) for i in range(3)]
    bad = tmp_path / "in" / "corrupt.nii.gz"
    bad.write_bytes(b"\x1f\x8b not a volume")
    out = tmp_path / "out"
    opts = ["--model", str(tiny_model), "--segments", "60", "--cam-shifts", "1"]
    assert main(["batch", str(tmp_path / "in"), "-o", str(out), "--workers", "1", *opts]) == 1
    err = capsys.readouterr().err
    assert "failed:" in err and str(bad) in err.split("failed:")[1]
    rows = {Path(r["input"]).name: r for r in read_manifest(out / "manifest.csv")}
    assert rows["corrupt.nii.gz"]["status"] == "failed" and "corrupt.nii.gz" in rows["corrupt.nii.gz"]["error"]
    sha = checkpoint_hash(tiny_model)
    for v in vols:
        row = rows[v.name]
        assert row["status"] == "done" and row["model_sha256"] == sha and row["worker"] != ""
        assert float(row["seconds"]) > 0
        labels = nib.load(row["output"])
        assert np.allclose(labels.affine, nib.load(v).affine) and labels.shape == nib.load(v).shape
        ref = tmp_path / f"ref_{v.name}"
        assert main(["run", str(v), "-o", str(ref), *opts]) == 0
        assert np.array_equal(np.asarray(labels.dataobj), np.asarray(nib.load(ref).dataobj))
        prov = json.loads(provenance_path(row["output"]).read_text())
        assert prov["key"]["model_sha256"] == sha and prov["key"]["params"]["n_segments"] == 60
        assert prov["input"] == str(v.resolve()) and prov["versions"]["distributed"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left

    mtimes = {p: p.stat().st_mtime_ns for p in out.glob("v*_labels.*")}
    assert main(["batch", *map(str, vols), "-o", str(out), "--resume", *opts]) == 0
    assert {r["status"] for r in read_manifest(out / "manifest.csv")} == {"skipped"}
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes  # no work: files untouched

    assert main(["batch", str(vols[0]), "-o", str(out), "--resume", "--workers", "1", "--threshold", "0.3",
                 *opts]) == 0
    (row,) = read_manifest(out / "manifest.csv")
    assert row["status"] == "done"
    assert json.loads(provenance_path(row["output"]).read_text())["key"]["params"]["threshold"] == 0.3


@pytest.mark.parametrize("argv, message", [
    (["--workers", "0"], "--workers must be a positive integer"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not allowed with argument"),
    (["--threshold", "2"], "--threshold"),
])
def test_bad_arguments_are_one_line_and_exit_code_2(tmp_path, tiny_model, capsys, argv, message):
    vol = make_test_volume(tmp_path / "v.nii.gz")
    with pytest.raises(SystemExit) as exc:
        main(["batch", str(vol), "-o", str(tmp_path / "out"), "--model", str(tiny_model), *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_missing_input_or_model_is_exit_code_2_before_any_cluster(tmp_path, tiny_model, capsys):
    vol = make_test_volume(tmp_path / "v.nii.gz")
    assert main(["batch", str(tmp_path / "nope.nii.gz"), "-o", str(tmp_path / "o"), "--model", str(tiny_model)]) == 2
    assert "nope.nii.gz: no such file or folder" in capsys.readouterr().err
    assert main(["batch", str(vol), "-o", str(tmp_path / "o"), "--model", str(tmp_path / "none.pt")]) == 2
    assert "none.pt: no such model file" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "o")


def test_ultrasound_inputs_get_their_own_model_and_defaults_and_resume(tmp_path):
    from labelassist.demo.us_files import write_ultrasound_cine
    from labelassist.io.resources import demo_model_path

    (tmp_path / "in").mkdir()
    make_test_volume(tmp_path / "in" / "head.nii.gz")
    write_ultrasound_cine(tmp_path / "in", "cine", rng=np.random.default_rng(0), setting="easy", frames=4)
    (tmp_path / "in" / "cine_mask.nii.gz").unlink()  # the truth is not an input
    out = tmp_path / "out"
    opts = ["--cam-shifts", "1", "--workers", "1"]
    assert main(["batch", str(tmp_path / "in"), "-o", str(out), *opts]) == 0
    rows = {Path(r["input"]).name: r for r in read_manifest(out / "manifest.csv")}
    us, mr = rows["cine.dcm"], rows["head.nii.gz"]
    assert us["model_sha256"] == checkpoint_hash(demo_model_path("US"))
    assert mr["model_sha256"] == checkpoint_hash(demo_model_path(""))
    us_key, mr_key = (json.loads(provenance_path(r["output"]).read_text())["key"] for r in (us, mr))
    assert us_key["params"]["despeckle"] == "median" and us_key["params"]["n_segments"] == 800
    assert mr_key["params"]["despeckle"] == "none" and us_key["params"]["cam_shifts"] == 1  # given: for both
    assert main(["batch", str(tmp_path / "in"), "-o", str(out), "--resume", *opts]) == 0
    assert {r["status"] for r in read_manifest(out / "manifest.csv")} == {"skipped"}
