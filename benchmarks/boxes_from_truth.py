"""Write the boxes of a true mask as ``labelassist box --boxes`` reads them: one ``slice,i0,j0,i1,j1`` row per
8-connected lesion part of each slice, its bounding box grown by 3 px (the reviewer's box of issue 29's figures).

    python benchmarks/boxes_from_truth.py MASK.nii.gz > boxes.csv
"""
import sys
import numpy as np
from scipy import ndimage
from labelassist.io import load_volume
m = np.asarray(load_volume(sys.argv[1], labels=True).array) > 0  # (z, y, x) = (k, j, i)
print("slice,i0,j0,i1,j1")
z, h, w = m.shape
for k in range(z):
    lab, n = ndimage.label(m[k], structure=np.ones((3, 3)))
    for sl in ndimage.find_objects(lab):
        ys, xs = sl
        print(f"{k},{max(xs.start-3,0)},{max(ys.start-3,0)},{min(xs.stop+2,w-1)},{min(ys.stop+2,h-1)}")
