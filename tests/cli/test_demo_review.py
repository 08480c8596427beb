"""``labelassist demo`` also says what 3 simulated corrections reach, beside drawing by hand."""

import re

import numpy as np

from labelassist.cli import demo


def test_the_demo_prints_the_review_after_three_corrections(volume, tiny_model):
    from labelassist.core.nets.checkpoint import load_checkpoint
    from labelassist.core.propose.params import PipelineParams
    from labelassist.core.propose.pipeline import Pipeline

    model, meta = load_checkpoint(tiny_model)
    pipe = Pipeline(volume.array, model, meta, params=PipelineParams(gate=0.0))
    labels = pipe.run()
    truth = (np.asarray(volume.array) > 0.9).astype(np.uint8)  # the test volume's bright disc
    line = demo._reviewed(pipe, labels, truth, "cpu")
    found = re.fullmatch(r"after 3 corrected slices \((\d+) clicks and strokes, simulated\): lesion Dice ([\d.]+) "
                         r"with the segmenter, ([\d.]+) drawing the 3 slices by hand", line)
    assert found, line
    assert 0 < int(found[1]) and 0 <= float(found[2]) <= 1
    areas = np.sort(truth.reshape(len(truth), -1).sum(1))[::-1]
    drawn, total = areas[:3].sum(), areas.sum()  # by hand: the 3 largest lesion slices, exact
    assert float(found[3]) == round(2 * drawn / (drawn + total), 3)
