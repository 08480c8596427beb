"""Volume throughput of batched CAMs against a plain per-slice grad-cam loop, and the pipeline's peak memory.

    python benchmarks/bench_cam.py [--slices 155] [--size 240] [--arch resnet34] [--device cpu] [--batch 16]

Throughput goal: >= 3x the per-slice loop. Memory goal: peak RSS of a whole pipeline run over a
155 x 240 x 240 volume <= 4x the volume's float32 size above the process with everything imported and the
model loaded (measured in a fresh process; the volume itself counts, as the random volume is made after the
baseline). ``labelassist run`` end to end (read, propose, write): benchmarks/bench_run_memory.py.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def naive_loop(model, vol, size, device):
    """What straightforward code does: a new GradCAM per slice, batch of one (maps centred as the pipeline's)."""
    import torch
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from labelassist.core.nets.inputs import resize_to, to_model_input
    from labelassist.core.propose.cam import centre_cells

    out = []
    for sl in vol:
        x = to_model_input(sl[None], input_size=size, in_channels=3).to(device)
        with GradCAM(model=model, target_layers=[model.layer4[-1]]) as cam:
            m = cam(input_tensor=x, targets=[ClassifierOutputTarget(1)])
            torch.softmax(cam.outputs, 1)
            # the pipeline moves each map half a feature cell, onto what the classifier saw (centre_cells)
            m = centre_cells(m, stride=size / cam.activations_and_grads.activations[-1].shape[-1])
        out.append(resize_to(m, sl.shape)[0])
    return np.stack(out)


def _rss_kb(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_child(args):
    """Run in a fresh process: peak RSS of a whole pipeline run (CAM + perimeter + fit) over the volume."""
    import pytorch_grad_cam  # noqa: F401 - its imports (matplotlib, sklearn, pandas: ~120 MiB) are code, not the run
    import skimage.segmentation  # noqa: F401
    import torch

    from labelassist.core.nets.classifier import build_classifier
    from labelassist.core.propose.pipeline import Pipeline, PipelineParams

    torch.manual_seed(0)
    model = build_classifier(args.arch).eval()
    with torch.no_grad():  # warm up torch's allocator and kernels so their one-off cost is not counted
        model(torch.zeros(1, 3, args.size, args.size))
    base = _rss_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:  # reset the high-water mark (VmHWM) to now
        fh.write("5")
    vol = np.random.default_rng(0).random((args.slices, args.size, args.size)).astype(np.float32)
    meta = {"input_size": args.size, "in_channels": 3}
    pipe = Pipeline(vol, model, meta, device=args.device, params=PipelineParams(gate=0.0), batch_size=args.batch)
    pipe.run()
    peak = _rss_kb("VmHWM")
    model_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    print(json.dumps({"base_kb": base, "peak_kb": peak, "volume_bytes": vol.nbytes, "model_bytes": model_bytes}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", type=int, default=155)
    ap.add_argument("--size", type=int, default=240)
    ap.add_argument("--arch", default="resnet34")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        return memory_child(args)

    import torch

    from labelassist.core.propose.cam import compute_cams
    from labelassist.core.nets.classifier import build_classifier
    from labelassist.core.nets.device import device_name, resolve_device

    device = resolve_device(args.device)
    torch.manual_seed(0)
    model = build_classifier(args.arch).to(device).eval()
    vol = np.random.default_rng(0).random((args.slices, args.size, args.size)).astype(np.float32)
    print(f"{args.arch}, {args.slices} slices of {args.size}², input {args.size}², on {device_name(device)} "
          f"({torch.get_num_threads()} threads)")
    compute_cams(model, vol[:2], input_size=args.size, in_channels=3, device=device)  # warm-up
    t = time.perf_counter()
    cams, _ = compute_cams(model, vol, input_size=args.size, in_channels=3, batch_size=args.batch, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    batched = time.perf_counter() - t
    t = time.perf_counter()
    ref = naive_loop(model, vol, args.size, device)
    naive = time.perf_counter() - t
    print(f"  per-slice grad-cam loop : {naive:7.2f} s  {args.slices / naive:6.2f} slices/s")
    print(f"  batched compute_cams    : {batched:7.2f} s  {args.slices / batched:6.2f} slices/s  (batch {args.batch})")
    print(f"  speed-up                : {naive / batched:5.2f}x   max |difference| {np.abs(cams - ref).max():.2e}")
    if args.skip_memory:
        return
    out = subprocess.run([sys.executable, __file__, "--memory-child", "--slices", str(args.slices), "--size",
                          str(args.size), "--arch", args.arch, "--device", args.device, "--batch", str(args.batch)],
                         capture_output=True, text=True, check=True)
    m = json.loads(out.stdout.strip().splitlines()[-1])
    extra = (m["peak_kb"] - m["base_kb"]) * 1024
    budget = 4 * m["volume_bytes"]
    print(f"  pipeline peak memory    : {extra / 2**20:7.1f} MiB above the loaded model (volume {m['volume_bytes'] / 2**20:.1f} MiB, "
          f"model {m['model_bytes'] / 2**20:.1f} MiB; budget 4x volume = {budget / 2**20:.1f} MiB; "
          "labelassist run itself: benchmarks/bench_run_memory.py)")


if __name__ == "__main__":
    main()
