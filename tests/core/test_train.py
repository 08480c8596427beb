"""Training from yes/no slice labels: labels, a loadable checkpoint with its record, cancel keeps the best."""

import numpy as np
import pytest

from labelassist.core.nets.checkpoint import load_checkpoint
from labelassist.core.classify.train import labels_from_mask, roc_auc, train_classifier
from labelassist.errors import Cancelled, ParameterError


def _data(n_vol=3, z=8, seed=0):
    rng = np.random.default_rng(seed)
    vols, labs = [], []
    for _ in range(n_vol):
        v = rng.normal(100, 5, (z, 32, 32)).astype(np.float32)
        lab = np.zeros(z, np.int64)
        lab[z // 4 : z // 2 + 1] = 1
        v[lab == 1, 10:20, 10:20] += 60
        vols.append(v)
        labs.append(lab)
    return vols, labs


def test_labels_from_mask():
    m = np.zeros((4, 3, 3))
    m[1, 0, 0] = 1
    m[3, 2, 2] = 2
    np.testing.assert_array_equal(labels_from_mask(m), [0, 1, 0, 1])


def test_roc_auc_hand_values():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([1, 1], [0.2, 0.3]) is None


def test_one_epoch_gives_a_loadable_checkpoint_with_its_record(tmp_path):
    vols, labs = _data()
    out = tmp_path / "m.pt"
    res = train_classifier(vols, labs, epochs=1, input_size=32, batch_size=8, checkpoint=out, seed=1)
    model, meta = load_checkpoint(out)
    rec = meta["training"]
    assert meta["arch"] == "resnet18" and meta["input_size"] == 32 and meta["in_channels"] == 3
    assert rec["epochs_run"] == 1 and rec["volumes_train"] == 2 and rec["volumes_val"] == 1
    assert rec["slices"] == 24 and rec["positive_slices"] == 9 and len(rec["data_hash"]) == 16
    assert rec["val_auc"] is None or 0 <= rec["val_auc"] <= 1
    assert res.meta == meta and not res.cancelled


def test_same_seed_same_model(tmp_path):
    vols, labs = _data()
    a = train_classifier(vols, labs, epochs=1, input_size=32, batch_size=8, seed=3)
    b = train_classifier(vols, labs, epochs=1, input_size=32, batch_size=8, seed=3)
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert np.allclose(va.numpy(), vb.numpy()), k


def test_cancel_keeps_the_best_checkpoint_so_far(tmp_path):
    vols, labs = _data()
    out = tmp_path / "m.pt"
    epochs_done = []

    def progress(info):
        if info.get("end_of_epoch"):
            epochs_done.append(info["epoch"])

    res = train_classifier(vols, labs, epochs=5, input_size=32, batch_size=8, checkpoint=out,
                           progress=progress, cancel=lambda: len(epochs_done) >= 1)
    assert res.cancelled and epochs_done == [1]
    _, meta = load_checkpoint(out)
    assert meta["training"]["best_epoch"] == 1 and meta["training"]["cancelled"] is True


def test_cancel_before_any_epoch_returns_nothing(tmp_path):
    vols, labs = _data()
    with pytest.raises(Cancelled):
        train_classifier(vols, labs, epochs=2, input_size=32, checkpoint=tmp_path / "m.pt", cancel=lambda: True)
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda v, lab: (v, [np.zeros_like(x) for x in lab]), "every slice is labelled negative"),
        (lambda v, lab: (v, [x[:-1] for x in lab]), "volume 0 has 8 slices but 7 labels"),
        (lambda v, lab: (v, lab[:1]), "need one label array per volume"),
    ],
)
def test_bad_labels(change, match):
    vols, labs = change(*_data())
    with pytest.raises(ParameterError, match=match):
        train_classifier(vols, labs, epochs=1, input_size=32)


def test_unknown_arch():
    with pytest.raises(ParameterError, match="arch must be one of resnet18, resnet34, resnet50"):
        train_classifier(*_data(), arch="vgg16")
    with pytest.raises(ParameterError, match="pool must be one of avg, max"):
        train_classifier(*_data(), pool="gem")


def test_init_starts_from_a_saved_model_and_records_it(tmp_path):
    """A warm start: a stride-16 model fine-tuned at stride 8 starts from its weights, and the record says so."""
    vols, labs = _data()
    first = train_classifier(vols, labs, epochs=1, input_size=32, batch_size=8, checkpoint=tmp_path / "a.pt", seed=1)
    start = {k: v.clone() for k, v in first.model.state_dict().items()}
    # lr tiny: after one epoch the weights are still those of the start, not of a fresh random model
    res = train_classifier(vols, labs, epochs=1, input_size=32, batch_size=8, output_stride=8, lr=1e-9,
                           init=tmp_path / "a.pt", checkpoint=tmp_path / "b.pt", seed=2)
    w = res.model.state_dict()["layer2.0.conv1.weight"]
    np.testing.assert_allclose(w.numpy(), start["layer2.0.conv1.weight"].numpy(), atol=1e-4)
    _, meta = load_checkpoint(tmp_path / "b.pt")
    assert meta["output_stride"] == 8
    assert meta["init"]["file"] == "a.pt" and meta["init"]["output_stride"] == 16
    assert meta["init"]["data_hash"] == first.meta["training"]["data_hash"]


def test_bad_init_and_lr(tmp_path):
    vols, labs = _data()
    train_classifier(vols, labs, epochs=1, input_size=32, batch_size=8, checkpoint=tmp_path / "a.pt")
    with pytest.raises(ParameterError, match="init a.pt is a resnet18 .* needs a resnet34"):
        train_classifier(vols, labs, epochs=1, input_size=32, arch="resnet34", init=tmp_path / "a.pt")
    with pytest.raises(ParameterError, match="init and the output are the same file a.pt"):
        train_classifier(vols, labs, epochs=1, input_size=32, init=tmp_path / "a.pt", checkpoint=tmp_path / "a.pt")
    with pytest.raises(ParameterError, match=r"^lr must be in \(0, 1\], got 0.0$"):
        train_classifier(vols, labs, epochs=1, input_size=32, lr=0)


def test_validation_volumes_hold_both_classes_when_they_can():
    """The split is by volume and prefers a validation set with lesion and lesion-free slices."""
    from labelassist.core.classify.data import split_volumes

    labels = [np.ones(4, np.int64), np.zeros(4, np.int64), np.zeros(4, np.int64), np.array([0, 1, 0, 0])]
    for seed in range(5):
        train, val = split_volumes(4, 0.25, labels, np.random.default_rng(seed))
        assert val == [3] and sorted(train + val) == [0, 1, 2, 3]
    assert split_volumes(1, 0.5, labels, np.random.default_rng(0)) == ([0], [])


def test_volumes_of_different_channel_counts_are_refused():
    vols, labs = _data()
    vols[1] = np.stack([vols[1], vols[1]], -1)
    with pytest.raises(ParameterError, match="different channel counts"):
        train_classifier(vols, labs, epochs=1, input_size=32)


def test_inputs_from_memory_maps_give_the_same_model_as_volumes_in_memory(tmp_path):
    """The streaming path (each volume's inputs written to a .npy, read back by index) trains the same model."""
    from labelassist.core.classify.data import data_hash, model_inputs
    from labelassist.core.classify.train import train_classifier_from_inputs

    vols, labs = _data(n_vol=4)
    vols[2] = vols[2][:6]  # volumes of different lengths: the gather crosses uneven boundaries
    labs[2] = labs[2][:6]
    kw = dict(epochs=2, input_size=32, batch_size=5, seed=4, val_fraction=0.3)
    a = train_classifier(vols, labs, **kw)
    maps = []
    for i, v in enumerate(vols):
        np.save(tmp_path / f"{i}.npy", model_inputs(v, input_size=32))
        maps.append(np.load(tmp_path / f"{i}.npy", mmap_mode="r"))
    kw.pop("input_size")
    b = train_classifier_from_inputs(maps, labs, data_hash=data_hash(vols, labs), **kw)
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        np.testing.assert_array_equal(va.numpy(), vb.numpy(), err_msg=k)
    ra, rb = a.meta["training"], b.meta["training"]
    assert {**ra, "seconds": 0} == {**rb, "seconds": 0}
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]


def test_slice_set_gathers_rows_across_volumes_in_the_order_asked():
    from labelassist.core.classify.data import SliceSet

    inputs = [np.arange(n * 4, dtype=np.float32).reshape(n, 1, 2, 2) + 100 * i for i, n in enumerate((3, 1, 2))]
    labels = [np.array([0, 1, 0]), np.array([1]), np.array([0, 0])]
    s = SliceSet(inputs, labels, [2, 0])
    assert len(s) == 5 and s.volume.tolist() == [2, 2, 0, 0, 0] and s.y.tolist() == [0, 0, 0, 1, 0]
    got = s[np.array([4, 0, 2, 1])].numpy()
    np.testing.assert_array_equal(got, np.stack([inputs[0][2], inputs[2][0], inputs[0][0], inputs[2][1]]))
    np.testing.assert_array_equal(s[1:3].numpy(), np.stack([inputs[2][1], inputs[0][0]]))


def test_model_inputs_of_another_size_are_refused():
    from labelassist.core.classify.data import model_inputs
    from labelassist.core.classify.train import train_classifier_from_inputs

    vols, labs = _data()
    inputs = [model_inputs(v, input_size=32) for v in vols[:2]] + [model_inputs(vols[2], input_size=48)]
    with pytest.raises(ParameterError, match="inputs have different sizes"):
        train_classifier_from_inputs(inputs, labs, epochs=1)
    with pytest.raises(ParameterError, match="inputs 0 has shape"):
        train_classifier_from_inputs([v for v in vols], labs, epochs=1)
