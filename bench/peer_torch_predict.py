#!/usr/bin/env python3
"""PyTorch CPU peer for bench/predict.ts: classify every image of a folder end to end.

Same job as `imgcls predict <checkpoint> <dir> --csv`: find the images (recursively, sorted), decode
with PIL, squash-resize to 224×224 (bilinear), scale to [0, 1], run torchvision's efficientnet_b0 in
batches, softmax, and print one CSV row per file. The weights are random (no download; speed does
not depend on their values) with a 2-class head, like a fine-tuned checkpoint. Tuned as
../shared/FACTS.md measured: torch.set_num_threads(cores), channels_last, inference_mode; the glibc
malloc settings (MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736) are set by the caller.
Decoding runs in DataLoader workers (--workers) so it overlaps inference, as imgcls' prefetch does.
A JSON summary goes to stderr. Run with Debian's /usr/bin/python3.
"""
import argparse
import json
import os
import sys
import time

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


def main():
    started = time.perf_counter()
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    import torch
    import torchvision
    from PIL import Image

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    files = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(args.dir)
        for name in names
        if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS and not name.startswith(".")
    )

    class Files(torch.utils.data.Dataset):
        def __len__(self):
            return len(files)

        def __getitem__(self, index):
            try:
                with Image.open(files[index]) as image:
                    image = image.convert("RGB").resize((224, 224), Image.BILINEAR)
                    pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
                return index, pixels.view(224, 224, 3).permute(2, 0, 1).float().div_(255), ""
            except Exception as error:  # an unreadable file is reported, the rest goes on
                return index, torch.zeros(3, 224, 224), str(error) or type(error).__name__

    model = torchvision.models.efficientnet_b0(weights=None, num_classes=2).eval()
    model = model.to(memory_format=torch.channels_last)
    loader = torch.utils.data.DataLoader(
        Files(), batch_size=args.batch_size, num_workers=args.workers,
        prefetch_factor=2 if args.workers > 0 else None)
    classes = ["logo", "others"]
    out = sys.stdout
    out.write("file,predicted,probability,logo,others,error\n")
    classified = 0
    with torch.inference_mode():
        for indices, batch, errors in loader:
            probabilities = torch.softmax(model(batch.contiguous(memory_format=torch.channels_last)), dim=1)
            for index, row, error in zip(indices.tolist(), probabilities.tolist(), errors):
                if error:
                    out.write(f"{files[index]},,,,,{error}\n")
                    continue
                best = 0 if row[0] >= row[1] else 1
                out.write(f"{files[index]},{classes[best]},{row[best]:.6f},{row[0]:.6f},{row[1]:.6f},\n")
                classified += 1
    seconds = time.perf_counter() - started
    print(json.dumps({
        "engine": "pytorch", "files": len(files), "classified": classified, "seconds": seconds,
        "imagesPerSec": len(files) / seconds, "threads": args.threads, "workers": args.workers,
        "batchSize": args.batch_size, "torch": torch.__version__,
        "tuned": os.environ.get("MALLOC_MMAP_MAX_") == "0",
    }), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
