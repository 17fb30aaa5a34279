"""Trains the seal classifier on any folder in the DESIGN seal format.

A fixed share of the folder (chosen by the seed) is held out for validation; training stops early when the
validation loss has not improved for `--patience` epochs, and the best epoch's weights are kept.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from seal_data import MEAN, STD, load_set
from seal_model import SealClassifier

MEAN_T = torch.tensor(MEAN).view(1, 3, 1, 1)
STD_T = torch.tensor(STD).view(1, 3, 1, 1)


def to_input(u8: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(u8).permute(0, 3, 1, 2).float().div_(255.0)
    return (x - MEAN_T) / STD_T


def evaluate_loss(model, data, idx, batch=256):
    model.eval()
    losses, correct = [], 0
    with torch.no_grad():
        for s in range(0, len(idx), batch):
            b = idx[s : s + batch]
            logits = model.logits(to_input(data.images[b]), to_input(data.references[data.ref_index[b]]))
            y = torch.from_numpy(data.labels[b])
            losses.append(F.cross_entropy(logits, y, reduction="sum").item())
            correct += (logits.argmax(1) == y).sum().item()
    return sum(losses) / len(idx), correct / len(idx)


def train(args) -> dict:
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    data = load_set(args.data)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(data.labels))
    n_val = max(1, int(len(order) * args.val_fraction))
    val_idx, train_idx = order[:n_val], order[n_val:]
    model = SealClassifier(dim=args.dim, alpha=args.alpha, attention=not args.no_attention)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = (len(train_idx) + args.batch - 1) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.15)
    best = {"val_loss": float("inf")}
    history = []
    since_best = 0
    started = time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0 = time.time()
        perm = rng.permutation(train_idx)
        total = 0.0
        for s in range(0, len(perm), args.batch):
            b = perm[s : s + args.batch]
            img, ref = data.images[b], data.references[data.ref_index[b]]
            if rng.random() < 0.5:  # mirror live and reference together: the pair stays consistent
                img, ref = img[:, :, ::-1], ref[:, :, ::-1]
            logits = model.logits(to_input(np.ascontiguousarray(img)), to_input(np.ascontiguousarray(ref)))
            loss = F.cross_entropy(logits, torch.from_numpy(data.labels[b]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(b)
        val_loss, val_acc = evaluate_loss(model, data, val_idx)
        row = {"epoch": epoch, "train_loss": total / len(perm), "val_loss": val_loss, "val_acc": val_acc, "s": time.time() - t0}
        history.append(row)
        print(json.dumps(row), flush=True)
        if val_loss < best["val_loss"]:
            best = {"val_loss": val_loss, "val_acc": val_acc, "epoch": epoch}
            torch.save({"config": model.config, "state_dict": model.state_dict()}, args.out)
            since_best = 0
        else:
            since_best += 1
            if since_best >= args.patience:
                print(f"early stop: no val-loss gain for {args.patience} epochs", flush=True)
                break
    summary = {
        "data": str(args.data),
        "train_samples": len(train_idx),
        "val_samples": len(val_idx),
        "seed": args.seed,
        "best": best,
        "epochs_run": len(history),
        "minutes": round((time.time() - started) / 60, 1),
        "config": model.config,
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    ckpt = torch.load(args.out, weights_only=False)
    ckpt["training"] = summary
    ckpt["history"] = history
    torch.save(ckpt, args.out)
    return summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="folder in the DESIGN seal format")
    p.add_argument("--out", type=Path, required=True, help="checkpoint to write (.pt)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=24)
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--alpha", type=float, default=1.0, help="distribution-gain weight (0 disables it)")
    p.add_argument("--no-attention", action="store_true", help="ablation: pooled-vector comparison instead")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(json.dumps(train(args)["best"]))


if __name__ == "__main__":
    main()
