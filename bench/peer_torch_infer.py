#!/usr/bin/env python3
"""PyTorch CPU peer for bench/infer.ts: EfficientNet-B0 forward images/s at the given batch sizes.

torchvision efficientnet_b0 with random weights (speed does not depend on the values), tuned as
../shared/FACTS.md measured: torch.set_num_threads(cores), channels_last, inference_mode, and glibc
malloc settings (MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736, set by the caller: they must
be in the environment before the process starts). Prints one JSON object per batch size.
Run with Debian's /usr/bin/python3 (python3-torch, python3-torchvision); installs them with apt-get
when missing and running as root.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def ensure_torch():
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError:
        if os.geteuid() != 0:
            sys.exit("peer: python3-torch/python3-torchvision missing; run as root: "
                     "apt-get install -y --no-install-recommends python3-torch python3-torchvision")
        print("peer: installing python3-torch python3-torchvision with apt-get", file=sys.stderr)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                        "python3-torch", "python3-torchvision"], check=True, env=env)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--iterations", type=int, default=20, help="timed forward passes per batch size")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()

    ensure_torch()
    import torch
    import torchvision

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = torchvision.models.efficientnet_b0(weights=None).eval()
    model = model.to(memory_format=torch.channels_last)
    for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
        x = torch.rand(batch_size, 3, 224, 224).to(memory_format=torch.channels_last)
        times = []
        with torch.inference_mode():
            for i in range(args.warmup + args.iterations):
                start = time.perf_counter()
                model(x)
                if i >= args.warmup:
                    times.append(time.perf_counter() - start)
        median = statistics.median(times)
        print(json.dumps({
            "engine": "pytorch", "batchSize": batch_size, "iterations": args.iterations,
            "medianMs": median * 1000, "imagesPerSec": batch_size / median,
            "threads": args.threads, "torch": torch.__version__,
            "tuned": os.environ.get("MALLOC_MMAP_MAX_") == "0",
        }), flush=True)


if __name__ == "__main__":
    main()
