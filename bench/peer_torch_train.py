"""PyTorch CPU peer of `imgcls train`: the lesson's fine-tuning recipe on the same JPEGs.

torchvision efficientnet_b0 (random init: nothing downloads), classifier replaced by Linear(1280, N),
SGD lr 0.001 momentum 0.9 weight decay 1e-4, batch 10, 10 epochs, a checkpoint every epoch;
images decoded with PIL (ImageFolder) and resized to 224x224 every epoch, as the lesson does.
Tuned as its users would tune it: torch.set_num_threads(cores), channels_last; run it with
MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 (bench/train.ts sets them).
Prints one JSON line with phase times in seconds measured from process start.
"""
import argparse
import json
import os
import sys
import tempfile
import time

START = time.perf_counter()

import torch  # noqa: E402
import torchvision  # noqa: E402
from torchvision import datasets, transforms  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="dataset root with train/<class> (and val/<class>)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--validate", action="store_true", help="also evaluate val/ after every epoch")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()

    torch.manual_seed(42)
    torch.set_num_threads(args.threads)
    imported = time.perf_counter() - START

    transform = transforms.Compose([transforms.Resize((224, 224)), transforms.ToTensor()])
    train_set = datasets.ImageFolder(os.path.join(args.data, "train"), transform=transform)
    loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, num_workers=0)
    val_loader = None
    if args.validate and os.path.isdir(os.path.join(args.data, "val")):
        val_set = datasets.ImageFolder(os.path.join(args.data, "val"), transform=transform)
        val_loader = torch.utils.data.DataLoader(val_set, batch_size=args.batch_size, shuffle=False, num_workers=0)

    model = torchvision.models.efficientnet_b0(weights=None)
    model.classifier[1] = torch.nn.Linear(model.classifier[1].in_features, len(train_set.classes))
    model = model.to(memory_format=torch.channels_last)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9, weight_decay=1e-4)
    model_ready = time.perf_counter() - START

    checkpoint_dir = tempfile.mkdtemp(prefix="peer-train-")
    train_start = time.perf_counter()
    images = 0
    history = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for inputs, labels in loader:
            inputs = inputs.to(memory_format=torch.channels_last)
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * labels.size(0)
            correct += (outputs.argmax(1) == labels).sum().item()
            seen += labels.size(0)
        images += seen
        record = {"epoch": epoch, "loss": loss_sum / seen, "accuracy": correct / seen}
        if val_loader is not None:
            model.eval()
            val_correct, val_seen = 0, 0
            with torch.no_grad():
                for inputs, labels in val_loader:
                    outputs = model(inputs.to(memory_format=torch.channels_last))
                    val_correct += (outputs.argmax(1) == labels).sum().item()
                    val_seen += labels.size(0)
            record["val_accuracy"] = val_correct / val_seen
        torch.save({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict()},
                   os.path.join(checkpoint_dir, f"epoch-{epoch:03d}.pt"))
        history.append(record)
    train_seconds = time.perf_counter() - train_start
    print(json.dumps({
        "peer": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "images": len(train_set),
        "epochs": args.epochs,
        "import_s": imported,
        "model_ready_s": model_ready,
        "train_s": train_seconds,
        "train_images_per_s": images / train_seconds,
        "total_s": time.perf_counter() - START,
        "final": history[-1] if history else None,
    }))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
