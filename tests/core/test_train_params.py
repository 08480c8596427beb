"""The training options, declared once: core's defaults are the declarations', and a value out of range is one
line naming the option (the command line's and the dialog's defaults: tests/cli/test_train_cli.py,
tests/app/test_app_training.py)."""

import inspect
import subprocess
import sys

import numpy as np
import pytest

from labelassist.core.classify import train
from labelassist.core.classify.params import TRAIN_PARAMS
from labelassist.core.options import OptionSchema, OptionSpec, option
from labelassist.core.propagate import params as seg_params
from labelassist.core.propagate.params import SEGMENTER_PARAMS, propagate_options
from labelassist.errors import ParameterError

SCHEMAS = (TRAIN_PARAMS, SEGMENTER_PARAMS)


def _keyword_defaults(fn) -> dict:
    empty = inspect.Parameter.empty
    return {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not empty}


def _out_of_range(spec):
    """A value the option refuses, as a value and as typed."""
    if spec.choices is not None:
        return "nope" if spec.type is str else 7
    if spec.type is bool:
        return "maybe"
    lo, hi = spec.range
    if spec.open_range[0]:
        return lo
    return lo - 1 if lo is not None else hi + 1


def test_every_option_is_declared_with_what_the_frontends_need():
    for schema in SCHEMAS:
        assert len(schema) and schema.names == tuple(s.name for s in schema)
        for s in schema:
            assert isinstance(s, OptionSpec) and s.stage == schema.model
            assert s.label and s.help and s.flag == "--" + s.name.replace("_", "-")  # no bool is on by default
            assert s.check(s.default) == s.default


def test_core_defaults_are_the_declared_ones():
    """train_classifier's keyword defaults, train_classifier_from_inputs' and the module constants are the
    schema's: nothing is written twice."""
    defaults = TRAIN_PARAMS.defaults()
    core = _keyword_defaults(train.train_classifier)
    assert {k: core[k] for k in defaults} == defaults
    streamed = _keyword_defaults(train.train_classifier_from_inputs)
    assert {k: streamed[k] for k in defaults if k != "input_size"} == {k: v for k, v in defaults.items()
                                                                       if k != "input_size"}
    constants = {"arch": train.ARCH, "input_size": train.INPUT_SIZE, "output_stride": train.OUTPUT_STRIDE,
                 "pool": train.POOL, "epochs": train.EPOCHS, "batch_size": train.BATCH_SIZE, "lr": train.LR,
                 "val_fraction": train.VAL_FRACTION, "patience": train.PATIENCE, "seed": train.SEED,
                 "half": train.HALF}
    assert constants == defaults
    assert all(f"``{name}``" in train.train_classifier.__doc__ for name in defaults)  # its docstring lists them


def test_the_input_size_default_is_the_shipped_demo_models():
    from labelassist.core.nets.checkpoint import load_checkpoint
    from labelassist.io.resources import demo_model_path

    assert TRAIN_PARAMS["input_size"].default == 96
    if demo_model_path().is_file():
        assert load_checkpoint(demo_model_path())[1]["input_size"] == TRAIN_PARAMS["input_size"].default


def test_segmenter_defaults_are_cores_constants():
    from labelassist.core.propagate.propagation import propagate
    from labelassist.core.propagate.training import training_settings

    d = SEGMENTER_PARAMS.defaults()
    core = _keyword_defaults(propagate)
    assert {k: core[k] for k in ("batch_size", "context", "max_size", "crop", "weak_weight", "seed")} == {
        k: d[k] for k in ("batch_size", "context", "max_size", "crop", "weak_weight", "seed")}
    common = dict(learn=True, steps=None, lr=None, batch_size=d["batch_size"], crop=d["crop"], seed=0)
    new, tuned = training_settings(fine_tune=False, **common), training_settings(fine_tune=True, **common)
    assert (new.steps, new.lr) == (d["steps"], d["lr"])
    assert (tuned.steps, tuned.lr) == (d["fine_tune_steps"], d["fine_tune_lr"])


def test_propagate_options_pick_the_steps_and_lr_of_the_run():
    d = SEGMENTER_PARAMS.defaults()
    new = propagate_options({"steps": 40, "lr": 0.02}, fine_tune=False)
    assert new == {"steps": 40, "lr": 0.02, "batch_size": d["batch_size"], "context": d["context"],
                   "max_size": d["max_size"], "crop": d["crop"], "weak_weight": d["weak_weight"], "seed": 0}
    tuned = propagate_options({"steps": 40, "fine_tune_steps": 7, "seed": np.int64(3)}, fine_tune=True)
    assert (tuned["steps"], tuned["lr"], tuned["seed"], type(tuned["seed"])) == (7, d["fine_tune_lr"], 3, int)
    with pytest.raises(ParameterError, match=r"^--fine-tune-steps must be at least 1, got 0$"):
        propagate_options({"fine_tune_steps": 0}, fine_tune=True, names={"fine_tune_steps": "--fine-tune-steps"})
    with pytest.raises(ParameterError, match=r"^unknown segmenter training option 'depth'; known: steps, "):
        propagate_options({"depth": 2}, fine_tune=False)


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.model)
def test_a_value_out_of_range_is_one_line_naming_the_option(schema):
    for spec in schema:
        value = _out_of_range(spec)
        with pytest.raises(ParameterError) as err:
            schema.check({spec.name: value})
        msg = str(err.value)
        assert msg.startswith(f"{spec.name} must be ") and "\n" not in msg and msg.endswith(f"got {value!r}"), msg
        with pytest.raises(ParameterError, match=rf"^{spec.flag} must be [^\n]*$"):
            spec.parse(str(value), name=spec.flag)


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"lr": 0}, r"^lr must be in \(0, 1\], got 0.0$"),
        ({"lr": -1e-3}, r"^lr must be in \(0, 1\], got -0.001$"),
        ({"val_fraction": 1.0}, r"^val_fraction must be in \[0, 1\), got 1.0$"),
        ({"input_size": 16}, r"^input_size must be an integer from 32 to 1024, got 16$"),
        ({"batch_size": 1}, r"^batch_size must be at least 2, got 1$"),
        ({"epochs": 0}, r"^epochs must be at least 1, got 0$"),
        ({"seed": -1}, r"^seed must be at least 0, got -1$"),
        ({"output_stride": 4}, r"^output_stride must be 8, 16 or 32; got 4$"),
        ({"arch": "vgg16"}, r"^arch must be one of resnet18, resnet34, resnet50; got 'vgg16'$"),
        ({"pool": "gem"}, r"^pool must be one of avg, max; got 'gem'$"),
        ({"half": 1}, r"^half must be True or False, got 1$"),
    ],
)
def test_train_classifier_refuses_an_option_out_of_range_in_one_line(changes, match):
    """Before any data is looked at: the declarations check every option (here with no volumes at all)."""
    with pytest.raises(ParameterError, match=match):
        train.train_classifier([], [], **changes)


def test_values_are_stored_as_their_declared_types():
    got = TRAIN_PARAMS.check({"lr": 1, "epochs": np.int64(3), "half": np.bool_(True), "val_fraction": 0})
    assert got == {"lr": 1.0, "epochs": 3, "half": True, "val_fraction": 0.0}
    assert [type(v) for v in got.values()] == [float, int, bool, float]


def test_open_ranges_read_and_parse():
    lr, share = TRAIN_PARAMS["lr"], TRAIN_PARAMS["val_fraction"]
    assert (lr.allowed, share.allowed) == ("a number in (0, 1]", "a number in [0, 1)")
    assert lr.parse(" 3e-4 ") == 3e-4 and lr.parse("1") == 1.0 and share.parse("0") == 0.0
    above = option("rate", 0.5, model="m", label="Rate", help="h.", range=(0.0, None), open_range=(True, False))
    below = option("share", 0.5, model="m", label="Share", help="h.", range=(None, 1.0), open_range=(False, True))
    assert (above.allowed, below.allowed) == ("a number greater than 0", "a number less than 1")
    with pytest.raises(ParameterError, match=r"^--rate must be greater than 0, got 0.0$"):
        above.parse("0", name="--rate")
    with pytest.raises(ParameterError, match=r"^share must be less than 1, got 1.0$"):
        below.check(1)
    with pytest.raises(ParameterError, match=r"^--rate must be a number greater than 0, got 'fast'$"):
        above.parse("fast", name="--rate")
    assert above.check(float("inf")) == float("inf") and below.check(-5.0) == -5.0


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (("n", None), {}, r"^n: default must be a bool, int, float or str, got None$"),
        (("n", 1), {"range": (0, 2), "choices": (1,)}, r"^n: give range or choices, not both$"),
        (("n", 1), {"range": (0, 2), "open_range": (True, False)}, r"^n: open_range needs a float"),
        (("n", 1.0), {"range": (None, 2.0), "open_range": (True, False)}, r"^n: open_range needs a float"),
        (("n", 0.0), {"range": (0.0, 1.0), "open_range": (True, False)}, r"^n must be in \(0, 1\], got 0.0$"),
        (("n", 1), {"cli": "-n"}, r"^n: cli must be a long flag like --name, got '-n'$"),
    ],
)
def test_bad_declarations_are_refused(args, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        option(*args, model="m", label="N", help="h.", **kwargs)


def test_a_schema_refuses_twice_declared_options_and_names_an_unknown_one():
    a = option("a", 1, model="m", label="A", help="h.")
    with pytest.raises(ParameterError, match="unique names and flags"):
        OptionSchema("m", (a, a))
    with pytest.raises(ParameterError, match="declared with model='m'"):
        OptionSchema("m", (option("b", 1, model="other", label="B", help="h."),))
    with pytest.raises(ParameterError, match=r"^unknown classifier training option 'depth'; known: arch, input_size, "):
        TRAIN_PARAMS["depth"]
    assert "lr" in TRAIN_PARAMS and "depth" not in TRAIN_PARAMS and seg_params.MIN_SIDE == 8


def test_the_declarations_import_no_torch():
    code = ("import sys\nimport labelassist.core.classify.params, labelassist.core.propagate.params\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr[-2000:]
