"""Benchmark caffemodel reading/writing against plain file copies.

Generates a VGG-16-sized model (138,357,544 float32 parameters, ~528 MB) with random weights in a
temporary directory using our writer, then runs each measurement in a fresh Python subprocess
and reports wall time and that child's peak RSS (``ru_maxrss`` from ``os.wait4``, via a tiny launcher process):

- ``cp``                 : ``cp model copy``, spawn to exit (the cost of moving the bytes once)
- ``python baseline``    : interpreter + numpy + protobuf + prototxt_tools imported, nothing read
- ``read``               : ``read_caffemodel`` only (arrays are lazy views of the mmap)
- ``read + sum``         : read and touch every value (``arr.sum()`` on every blob)
- ``read + write``       : read, then ``write_caffemodel`` a copy, durable (fsync) and not (the
                           default for a new file)
- ``protobuf`` (--protobuf): ``NetParameter.FromString(file bytes)`` + ``np.array(blob.data)``

Python children time their own work (imports excluded).  The page cache is warm (the file was
just written); times are the median of ``--repeat`` runs, RSS the maximum.

    python benchmarks/caffemodel_read.py              # full VGG-16 size
    python benchmarks/caffemodel_read.py --params 5e6 # smaller, quicker
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from prototxt_tools.caffemodel import write_caffemodel  # noqa: E402
from prototxt_tools.schema import caffe_pb2  # noqa: E402

# (name, type, weight shape or None); biases are (out,).  Shapes of VGG-16 (ILSVRC-2014, D).
_CONVS = [("conv1_1", 64, 3), ("conv1_2", 64, 64), ("conv2_1", 128, 64), ("conv2_2", 128, 128),
          ("conv3_1", 256, 128), ("conv3_2", 256, 256), ("conv3_3", 256, 256),
          ("conv4_1", 512, 256), ("conv4_2", 512, 512), ("conv4_3", 512, 512),
          ("conv5_1", 512, 512), ("conv5_2", 512, 512), ("conv5_3", 512, 512)]
_FCS = [("fc6", 4096, 512 * 7 * 7), ("fc7", 4096, 4096), ("fc8", 1000, 4096)]
VGG16_PARAMS = 138_357_544


def vgg16_shapes(params: float) -> list[tuple[str, str, tuple[int, ...]]]:
    """Layer name, type and weight shape; output channels scaled so the total is ~``params``."""
    scale = params / VGG16_PARAMS
    shapes = [(name, "Convolution", (max(1, round(out * scale)), cin, 3, 3))
              for name, out, cin in _CONVS]
    shapes += [(name, "InnerProduct", (max(1, round(out * scale)), cin)) for name, out, cin in _FCS]
    return shapes


def build_model(path: str, params: float) -> int:
    """Write the random model; return its parameter count."""
    net = caffe_pb2.NetParameter(name="VGG_ILSVRC_16_layers")
    rng = np.random.default_rng(0)
    weights: dict[str, list[np.ndarray]] = {}
    total = 0
    for name, kind, shape in vgg16_shapes(params):
        layer = net.layer.add(name=name, type=kind, bottom=["x"], top=[name])
        if kind == "Convolution":
            layer.convolution_param.num_output = shape[0]
            layer.convolution_param.kernel_size.append(3)
            layer.convolution_param.pad.append(1)
        else:
            layer.inner_product_param.num_output = shape[0]
        net.layer.add(name=f"relu_{name}", type="ReLU", bottom=[name], top=[name])
        blobs = [rng.standard_normal(shape, dtype=np.float32),
                 rng.standard_normal(shape[:1], dtype=np.float32)]
        total += sum(b.size for b in blobs)
        weights[name] = blobs
    write_caffemodel(path, net, weights, durable=False)
    return total


_CHILD = {
    "python baseline": "pass",
    "read": "m = read_caffemodel(SRC)",
    "read + sum": "m = read_caffemodel(SRC)\nfor l in m.layers:\n    for a in l.blobs: a.sum()",
    "read + write (durable)":
        "m = read_caffemodel(SRC)\nwrite_caffemodel(DST, m.net, m.layers, durable=True)",
    "read + write (no fsync)":
        "m = read_caffemodel(SRC)\nwrite_caffemodel(DST, m.net, m.layers, durable=False)",
    "protobuf FromString": "n = NetParameter.FromString(open(SRC, 'rb').read())",
    "protobuf + np.array(blob.data)":
        "n = NetParameter.FromString(open(SRC, 'rb').read())\n"
        "for l in n.layer:\n    for b in l.blobs: np.array(b.data, np.float32)",
}
_PRELUDE = ("import sys, time, json\nsys.path.insert(0, {repo!r})\nimport numpy as np\n"
            "from prototxt_tools.caffemodel import read_caffemodel, write_caffemodel\n"
            "from prototxt_tools.schema import NetParameter\nSRC, DST = {src!r}, {dst!r}\n"
            "t = time.perf_counter()\n{body}\nprint(json.dumps(time.perf_counter() - t))\n")


# Peak RSS must come from a process that did not fork off this (large) one: Linux carries the
# forked parent's high-water mark across exec.  A bare interpreter (~8 MB, "python -S") spawns
# the measured command and reports its wait4 rusage; that is the floor of the RSS column.
_LAUNCHER = ("import os, sys, time\n"
             "start = time.perf_counter()\n"
             "pid = os.posix_spawnp(sys.argv[1], sys.argv[1:], os.environ)\n"
             "_, status, usage = os.wait4(pid, 0)\n"
             "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss, "
             "time.perf_counter() - start)\n")


def run_child(argv: list[str]) -> tuple[float, int, str]:
    """Run argv; return (seconds from spawn to exit, peak RSS bytes of that child, its stdout)."""
    done = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *argv], stdout=subprocess.PIPE,
                          check=True, text=True)
    *lines, last = done.stdout.strip().splitlines()
    code, maxrss, wall = int(last.split()[0]), int(last.split()[1]), float(last.split()[2])
    if code:
        raise SystemExit(f"{argv[:2]} failed with exit code {code}")
    rss = maxrss * (1 if sys.platform == "darwin" else 1024)
    return wall, rss, "\n".join(lines)


def measure(label: str, src: str, dst: str, repeat: int) -> dict:
    times, rss = [], []
    for _ in range(repeat):
        if label == "cp":
            wall, peak, _ = run_child(["cp", src, dst])
            times.append(wall)
        else:
            code = _PRELUDE.format(repo=str(REPO), src=src, dst=dst, body=_CHILD[label])
            _, peak, out = run_child([sys.executable, "-c", code])
            times.append(json.loads(out.strip().splitlines()[-1]))
        rss.append(peak)
        if os.path.exists(dst):
            os.unlink(dst)
    return {"label": label, "seconds": statistics.median(times), "rss": max(rss)}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import google.protobuf
    from google.protobuf.internal import api_implementation
    return (f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}; Python "
            f"{platform.python_version()}, numpy {np.__version__}, protobuf "
            f"{google.protobuf.__version__} ({api_implementation.Type()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--params", type=float, default=VGG16_PARAMS,
                        help="approximate parameter count (default: VGG-16, 138,357,544)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--protobuf", action="store_true",
                        help="also time protobuf's own parse (slow, ~3x file size in memory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="caffemodel-bench-") as tmp:
        src, dst = os.path.join(tmp, "vgg16.caffemodel"), os.path.join(tmp, "copy.caffemodel")
        params = build_model(src, args.params)
        size = os.path.getsize(src)
        labels = ["cp", "python baseline", "read", "read + sum", "read + write (durable)",
                  "read + write (no fsync)"]
        if args.protobuf:
            labels += ["protobuf FromString", "protobuf + np.array(blob.data)"]
        rows = [measure(label, src, dst, args.repeat) for label in labels]
    cp_time = rows[0]["seconds"]
    print(f"{time.strftime('%Y-%m-%d')}  {machine()}")
    print(f"model: {params:,} float32 parameters, file {size / 1e6:.1f} MB; "
          f"median of {args.repeat}, warm page cache\n")
    baseline = rows[1]["rss"]
    print("| measurement | time (s) | x cp | peak RSS (MB) | RSS above baseline / file size |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        above = "" if row["label"] in ("cp", "python baseline") else \
            f"{(row['rss'] - baseline) / size:.2f}"
        print(f"| {row['label']} | {row['seconds']:.3f} | {row['seconds'] / cp_time:.2f} | "
              f"{row['rss'] / 1e6:.0f} | {above} |")


if __name__ == "__main__":
    main()
