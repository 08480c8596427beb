"""`labelassist train` from masks and from a slice-label file; bad input is one line; run uses the demo model."""

import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from labelassist.cli import build_parser, main
from labelassist.cli.train import training_options
from labelassist.core.classify.params import TRAIN_PARAMS
from labelassist.io.resources import demo_model_path
from labelassist.core.nets.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def vols(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        v = rng.normal(100, 5, (32, 32, 8)).astype(np.float32)
        m = np.zeros(v.shape, np.uint8)
        m[10:20, 10:20, 2:5] = 1
        v[m > 0] += 60
        nib.save(nib.Nifti1Image(v, np.eye(4)), str(tmp / f"v{i}.nii.gz"))
        nib.save(nib.Nifti1Image(m, np.eye(4)), str(tmp / f"v{i}_mask.nii.gz"))
        paths.append((tmp / f"v{i}.nii.gz", tmp / f"v{i}_mask.nii.gz"))
    return tmp, paths


def _common(paths):
    return [str(v) for v, _ in paths]


def test_train_from_masks(vols):
    tmp, paths = vols
    out = tmp / "m.pt"
    code = main(["train", *_common(paths), "--masks", *[str(m) for _, m in paths], "-o", str(out),
                 "--epochs", "1", "--input-size", "32", "--batch-size", "8"])
    assert code == 0
    _, meta = load_checkpoint(out)
    assert meta["training"]["positive_slices"] == 9 and meta["training"]["slices"] == 24


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_train_from_slice_labels(vols, fmt):
    tmp, paths = vols
    rows = [(str(v), s, int(2 <= s < 5)) for v, _ in paths for s in range(8)]
    f = tmp / f"labels.{fmt}"
    if fmt == "csv":
        f.write_text("volume,slice,label\n" + "\n".join(f"{v},{s},{y}" for v, s, y in rows))
    else:
        f.write_text(json.dumps([{"volume": v, "slice": s, "label": y} for v, s, y in rows]))
    out = tmp / f"s_{fmt}.pt"
    assert main(["train", *_common(paths), "--slice-labels", str(f), "-o", str(out), "--epochs", "1",
                 "--input-size", "32"]) == 0
    assert load_checkpoint(out)[1]["training"]["positive_slices"] == 9


def _run(args):
    return subprocess.run([sys.executable, "-m", "labelassist", *args], capture_output=True, text=True, timeout=120)


def test_bad_training_input_is_one_line(vols, tmp_path):
    _, paths = vols
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{paths[0][0]},99,1\n")
    other = tmp_path / "small_mask.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.uint8), np.eye(4)), str(other))
    neg = tmp_path / "neg.csv"
    neg.write_text(f"{paths[0][0]},1,0\n")
    cases = [
        (["--slice-labels", str(bad)], "slice 99 does not exist"),
        (["--masks", str(other), str(paths[1][1]), str(paths[2][1])], "does not match its volume"),
        (["--slice-labels", str(neg)], "every slice is labelled negative"),
        (["--masks", *[str(m) for _, m in paths], "--arch", "vgg"], "arch must be one of"),
        (["--masks", *[str(m) for _, m in paths], "--init", str(tmp_path / "none.pt")], "none.pt"),
        (["--masks", *[str(m) for _, m in paths], "--lr", "-1"], "--lr must be in (0, 1], got -1.0"),
    ]
    for extra, match in cases:
        out = _run(["train", *_common(paths), *extra, "-o", str(tmp_path / "x.pt"), "--epochs", "1"])
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1 and match in lines[0], out.stderr


@pytest.mark.skipif(not demo_model_path().is_file(), reason="no shipped demo model")
def test_run_without_model_uses_the_shipped_demo_model(vols, tmp_path):
    _, paths = vols
    out = _run(["run", str(paths[0][0]), "-o", str(tmp_path / "l.nii.gz")])
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "l.nii.gz").is_file()


def test_streamed_training_gives_the_model_of_the_volumes_in_memory(vols, tmp_path):
    """`labelassist train` reads the volumes one at a time and trains from files: same model, same record, and
    its temporary folder is gone afterwards."""
    from labelassist.core.classify.train import labels_from_mask, train_classifier
    from labelassist.io import load_volume

    _, paths = vols
    out = tmp_path / "m.pt"
    assert main(["train", *_common(paths), "--masks", *[str(m) for _, m in paths], "-o", str(out), "--epochs", "2",
                 "--input-size", "32", "--batch-size", "5", "--seed", "3", "--device", "cpu"]) == 0
    arrays = [load_volume(v).array for v, _ in paths]
    labels = [labels_from_mask(load_volume(m, labels=True).array) for _, m in paths]
    ref = train_classifier(arrays, labels, epochs=2, input_size=32, batch_size=5, seed=3, device="cpu")
    model, meta = load_checkpoint(out)
    for (k, va), vb in zip(ref.model.state_dict().items(), model.state_dict().values()):
        np.testing.assert_array_equal(va.numpy(), vb.numpy(), err_msg=k)
    assert {**meta["training"], "seconds": 0, "cancelled": False} == {**ref.meta["training"], "seconds": 0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


def test_the_temporary_folder_goes_also_after_an_error(vols, tmp_path, capsys):
    _, paths = vols
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{paths[0][0]},99,1\n")
    assert main(["train", *_common(paths), "--slice-labels", str(bad), "-o", str(tmp_path / "x.pt"), "--epochs", "1",
                 "--input-size", "32"]) == 2
    assert "slice 99 does not exist" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_the_options_defaults_are_cores_and_the_declarations(capsys):
    """Every training option has its flag, with the default of its declaration, which is train_classifier's too."""
    import inspect

    from labelassist.core.classify.train import train_classifier

    args = build_parser().parse_args(["train", "v.nii.gz", "--masks", "m.nii.gz", "-o", "x.pt"])
    core = {k: p.default for k, p in inspect.signature(train_classifier).parameters.items() if k in TRAIN_PARAMS}
    assert training_options(args) == TRAIN_PARAMS.defaults() == core
    assert training_options(args)["input_size"] == 96
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for spec in TRAIN_PARAMS:
        said = "off by default)" if spec.type is bool else f"default {spec.default})"
        assert spec.flag in text and said in text, spec.name


@pytest.mark.parametrize(
    "extra, line",
    [
        (["--input-size", "8"], "argument --input-size: --input-size must be an integer from 32 to 1024, got 8"),
        (["--input-size", "big"], "--input-size must be an integer from 32 to 1024, got 'big'"),
        (["--lr", "0"], "argument --lr: --lr must be in (0, 1], got 0.0"),
        (["--val-fraction", "1"], "argument --val-fraction: --val-fraction must be in [0, 1), got 1.0"),
        (["--batch-size", "1"], "argument --batch-size: --batch-size must be at least 2, got 1"),
        (["--epochs", "0"], "argument --epochs: --epochs must be at least 1, got 0"),
        (["--seed", "-1"], "argument --seed: --seed must be at least 0, got -1"),
        (["--output-stride", "4"], "argument --output-stride: --output-stride must be 8, 16 or 32; got 4"),
        (["--pool", "gem"], "argument --pool: --pool must be one of avg, max; got 'gem'"),
    ],
)
def test_an_option_out_of_range_is_one_line_naming_it(extra, line, capsys, tmp_path):
    with pytest.raises(SystemExit) as done:
        main(["train", "v.nii.gz", "--masks", "m.nii.gz", "-o", str(tmp_path / "x.pt"), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert done.value.code == 2 and len(err) == 1 and line in err[0], err
    assert not (tmp_path / "x.pt").exists()
