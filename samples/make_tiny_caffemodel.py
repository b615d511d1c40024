"""Regenerate tiny_convnet.caffemodel: seeded random weights for tiny_convnet.prototxt.

    python samples/make_tiny_caffemodel.py

Pooling 16x16 with kernel 3 stride 2 gives Caffe's ceil((16-3)/2)+1 = 8 (7.5 rounded up),
so fc sees 8*8*8 = 512 inputs.
"""

from pathlib import Path

import numpy as np
from google.protobuf import text_format

from prototxt_tools.caffemodel import write_caffemodel
from prototxt_tools.schema import NetParameter

HERE = Path(__file__).resolve().parent


def main() -> None:
    net = text_format.Parse((HERE / "tiny_convnet.prototxt").read_text(), NetParameter())
    rng = np.random.default_rng(20141125)
    weights = {
        "conv1": [rng.normal(0, 0.3, (8, 3, 3, 3)).astype("<f4"), rng.normal(0, 0.1, 8).astype("<f4")],
        # BatchNorm keeps running sums; the third blob is the scale factor they are divided by
        "bn1": [rng.normal(0, 0.5, 8).astype("<f4") * 4, rng.uniform(0.5, 1.5, 8).astype("<f4") * 4,
                np.array([4.0], "<f4")],
        "scale1": [rng.uniform(0.5, 1.5, 8).astype("<f4"), rng.normal(0, 0.1, 8).astype("<f4")],
        "fc": [rng.normal(0, 0.05, (10, 512)).astype("<f4"), rng.normal(0, 0.1, 10).astype("<f4")],
    }
    write_caffemodel(HERE / "tiny_convnet.caffemodel", net, weights)


if __name__ == "__main__":
    main()
