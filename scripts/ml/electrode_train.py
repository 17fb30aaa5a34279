"""Trains the electrode detector on any folder in the DESIGN COCO format.

A share of the folder (chosen by the seed) is held out for validation, or `--val-data` names a folder of its
own; training stops early when the validation loss has not improved for `--patience` epochs and the best
epoch's weights are kept. With `--max-minutes` the learning rate anneals over that wall-clock budget and
training stops when it is spent, within an epoch if need be (then scored and kept like any epoch). Runs on the
CPU (2 threads by default) or, when one is present, a CUDA GPU. `--from CHECKPOINT` starts from a trained
checkpoint's weights (fine-tuning); the starting weights are scored on the validation share first and kept
(as epoch 0) when no epoch beats them.

Losses: sigmoid focal loss for the point classes, GIoU loss for the boxes of positive points, cross-entropy
+ Dice for the segmentation map, binary cross-entropy for image-level presence.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from electrode_data import CLASSES, detection_targets, load_set, normalise_visible, normalise_xray
from electrode_model import NUM_CLASSES, SIZE, DET_STRIDE, ElectrodeDetector, count_parameters, variant


def focal_loss(logits, target, alpha: float = 0.25, gamma: float = 2.0):
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    pt = p * target + (1 - p) * (1 - target)
    return (ce * (1 - pt) ** gamma * (alpha * target + (1 - alpha) * (1 - target))).sum()


def giou_loss(pred, target):
    """Boxes (K, 4) as x0 y0 x1 y1."""
    ix0, iy0 = torch.maximum(pred[:, 0], target[:, 0]), torch.maximum(pred[:, 1], target[:, 1])
    ix1, iy1 = torch.minimum(pred[:, 2], target[:, 2]), torch.minimum(pred[:, 3], target[:, 3])
    inter = (ix1 - ix0).clamp(min=0) * (iy1 - iy0).clamp(min=0)
    ap = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    at = (target[:, 2] - target[:, 0]) * (target[:, 3] - target[:, 1])
    union = ap + at - inter + 1e-6
    cx0, cy0 = torch.minimum(pred[:, 0], target[:, 0]), torch.minimum(pred[:, 1], target[:, 1])
    cx1, cy1 = torch.maximum(pred[:, 2], target[:, 2]), torch.maximum(pred[:, 3], target[:, 3])
    hull = (cx1 - cx0) * (cy1 - cy0) + 1e-6
    return (1 - inter / union + (hull - union) / hull).sum()


def dice_loss(seg_logits, masks):
    """Mean soft Dice over the defect classes present in the batch."""
    p = seg_logits.softmax(1)[:, 1:]
    t = F.one_hot(masks.long(), NUM_CLASSES + 1).permute(0, 3, 1, 2)[:, 1:].float()
    inter = (p * t).sum((0, 2, 3))
    denom = p.sum((0, 2, 3)) + t.sum((0, 2, 3))
    present = t.sum((0, 2, 3)) > 0
    dice = 1 - (2 * inter + 1) / (denom + 1)
    return dice[present].mean() if present.any() else seg_logits.sum() * 0


class Batches:
    """The whole set as tensors on the training device, with its targets, flipped on the fly."""

    def __init__(self, folder: Path, device: torch.device, limit: int | None = None):
        data = load_set(folder, limit)
        self.n = len(data.files)
        self.vis = torch.from_numpy(normalise_visible(data.visible)).to(device)
        self.xray = torch.from_numpy(normalise_xray(data.xray)).to(device)
        self.masks = torch.from_numpy(data.masks).to(device)
        t = [detection_targets(b) for b in data.boxes]
        self.cls_t = torch.from_numpy(np.stack([x[0] for x in t])).to(device)
        self.box_t = torch.from_numpy(np.stack([x[1] for x in t])).to(device)
        self.pos = torch.from_numpy(np.stack([x[2] for x in t])).to(device)
        self.presence = self.cls_t.amax(1)

    # On the CPU, channels-last convolutions are about 17% faster per training step (oneDNN's native layout).
    memory_format = torch.contiguous_format

    def take(self, idx: np.ndarray, flip_x: bool = False, flip_y: bool = False) -> dict:
        i = torch.as_tensor(idx, device=self.vis.device)
        b = {"vis": self.vis[i], "xray": self.xray[i], "masks": self.masks[i], "presence": self.presence[i]}
        g = SIZE // DET_STRIDE
        cls_t = self.cls_t[i].reshape(-1, g, g, NUM_CLASSES)
        box_t = self.box_t[i].reshape(-1, g, g, 4)
        pos = self.pos[i].reshape(-1, g, g)
        if flip_x:  # the grid is symmetric, so a mirrored image has mirrored targets
            b["vis"], b["xray"], b["masks"] = b["vis"].flip(-1), b["xray"].flip(-1), b["masks"].flip(-1)
            cls_t, pos = cls_t.flip(2), pos.flip(2)
            box_t = box_t.flip(2)[..., [2, 1, 0, 3]] * torch.tensor([-1, 1, -1, 1], device=box_t.device)
            box_t = box_t + torch.tensor([SIZE, 0, SIZE, 0], device=box_t.device)
        if flip_y:
            b["vis"], b["xray"], b["masks"] = b["vis"].flip(-2), b["xray"].flip(-2), b["masks"].flip(-2)
            cls_t, pos = cls_t.flip(1), pos.flip(1)
            box_t = box_t.flip(1)[..., [0, 3, 2, 1]] * torch.tensor([1, -1, 1, -1], device=box_t.device)
            box_t = box_t + torch.tensor([0, SIZE, 0, SIZE], device=box_t.device)
        b["cls_t"], b["box_t"], b["pos"] = cls_t.reshape(len(i), -1, NUM_CLASSES), box_t.reshape(len(i), -1, 4), pos.reshape(len(i), -1)
        b["vis"] = b["vis"].contiguous(memory_format=self.memory_format)
        b["xray"] = b["xray"].contiguous(memory_format=self.memory_format)
        return b


def progress(args, step_share: float, elapsed_s: float) -> float:
    """How far training is: by steps, or by wall-clock time when a budget is set, whichever is further."""
    return max(step_share, elapsed_s / (60 * args.max_minutes)) if args.max_minutes else step_share


def learning_rate(args, step_share: float, elapsed_s: float) -> float:
    """Linear warm-up over the first 5%, then cosine decay to zero at the end of the schedule, so a run cut
    short by its time budget still ends annealed."""
    t = min(progress(args, step_share, elapsed_s), 1.0)
    if t < 0.05:
        return args.lr * (0.1 + 0.9 * t / 0.05)
    return args.lr * 0.5 * (1 + math.cos(math.pi * (t - 0.05) / 0.95))


def losses(model: ElectrodeDetector, b: dict, focal_alpha: float = 0.25) -> dict:
    r = model.raw(b["vis"], b["xray"])
    pos = b["pos"]
    n_pos = pos.sum().clamp(min=1).float()
    boxes = model.boxes(r["ltrb"])
    return {
        "focal": focal_loss(r["cls_logits"], b["cls_t"], alpha=focal_alpha) / n_pos,
        "giou": 2.0 * giou_loss(boxes[pos], b["box_t"][pos]) / n_pos,
        "seg_ce": F.cross_entropy(r["seg"], b["masks"].long()),
        "dice": dice_loss(r["seg"], b["masks"]),
        "presence": 0.5 * F.binary_cross_entropy_with_logits(r["presence"], b["presence"]),
    }


def evaluate_loss(model, data: Batches, idx: np.ndarray, batch: int, focal_alpha: float) -> dict:
    model.eval()
    sums: dict[str, float] = {}
    with torch.no_grad():
        for s in range(0, len(idx), batch):
            b = data.take(idx[s : s + batch])
            for k, v in losses(model, b, focal_alpha).items():
                sums[k] = sums.get(k, 0.0) + v.item() * len(b["vis"])
    out = {k: v / len(idx) for k, v in sums.items()}
    out["total"] = sum(out.values())
    return out


def epoch_pool(data: Batches, train_idx: np.ndarray, oversample: list[str]) -> np.ndarray:
    """The training images an epoch draws from: each image showing an oversampled class (CLASS=K) is in it K
    times, so rare or hard classes are seen more often within the same number of steps."""
    pool = [train_idx]
    for spec in oversample:
        name, _, k = spec.partition("=")
        if name not in CLASSES or not k.isdigit() or int(k) < 1:
            raise SystemExit(f"--oversample {spec}: expected CLASS=K with CLASS one of {', '.join(CLASSES)}")
        shown = train_idx[data.presence[train_idx, CLASSES.index(name)].cpu().numpy() > 0]
        pool += [shown] * (int(k) - 1)
    return np.concatenate(pool)


class StartError(Exception):
    """A run that cannot start: a --from checkpoint that does not fit, or too few training images."""


def start_weights(model: ElectrodeDetector, path: Path) -> dict:
    """Loads a checkpoint's weights into `model` (built for this run's variant); the checkpoint must have been
    trained with the same architecture. Returns the checkpoint's training summary (may be empty)."""
    if not path.is_file():
        raise StartError(f"--from {path}: no such file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # torch raises many kinds for a file that is not a checkpoint
        raise StartError(f"--from {path}: not a PyTorch checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(ckpt, dict) or "config" not in ckpt or "state_dict" not in ckpt:
        raise StartError(f"--from {path}: not an electrode_train.py checkpoint (no config and state_dict)")
    diff = [f"{k}: checkpoint {ckpt['config'].get(k)!r}, this run {v!r}" for k, v in model.config.items()
            if ckpt["config"].get(k) != v]
    if diff:
        raise StartError(f"--from {path}: the checkpoint's architecture (variant {ckpt.get('variant')!r}) differs"
                         f" from this run's: " + "; ".join(diff))
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise StartError(f"--from {path}: weights do not fit the model: {e}") from e
    return ckpt.get("training", {})


def save(model: ElectrodeDetector, args, path: Path) -> None:
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"config": model.config, "variant": args.variant, "state_dict": state}, path)


def train(args) -> dict:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    model = ElectrodeDetector(**variant(args.variant))
    started_from = start_weights(model, args.start) if args.start else None  # before the (slow) data load
    t_load = time.time()
    data = Batches(args.data, device, args.limit)
    rng = np.random.default_rng(args.seed)
    if args.val_data:
        val_data = Batches(args.val_data, device)
        train_idx, val_idx = np.arange(data.n), np.arange(val_data.n)
    else:
        val_data = data
        order = rng.permutation(data.n)
        n_val = max(1, int(data.n * args.val_fraction))
        val_idx, train_idx = order[:n_val], order[n_val:]
    print(f"loaded {data.n} images ({len(val_idx)} for validation) in {time.time() - t_load:.1f} s on {device}",
          flush=True)
    if len(train_idx) < args.batch:
        raise StartError(f"--data {args.data}: {len(train_idx)} training images, fewer than one batch ({args.batch})")
    model = model.to(device)
    if device.type == "cpu":
        data.memory_format = val_data.memory_format = torch.channels_last
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = (len(train_idx) // args.batch) * args.epochs
    pool = epoch_pool(data, train_idx, args.oversample)
    step = 0
    best = {"val_loss": float("inf")}
    history, since_best, started = [], 0, time.time()
    if started_from is not None:  # the start is a candidate too: a short fine-tune may not beat it
        val = evaluate_loss(model, val_data, val_idx, args.batch * 2, args.focal_alpha)
        row = {"epoch": 0, "val": {k: round(v, 4) for k, v in val.items()}, "s": round(time.time() - started, 1),
               "from": str(args.start)}
        history.append(row)
        print(json.dumps(row), flush=True)
        best = {"val_loss": val["total"], "epoch": 0}
        save(model, args, args.out)
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0 = time.time()
        perm = rng.permutation(pool)[: len(train_idx)]  # epochs keep their size (and cost) when oversampling
        total, seen = 0.0, 0
        for s in range(0, len(perm) - args.batch + 1, args.batch):
            b = data.take(perm[s : s + args.batch], bool(rng.random() < 0.5), bool(rng.random() < 0.5))
            loss = sum(losses(model, b, args.focal_alpha).values())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            for g in opt.param_groups:
                g["lr"] = learning_rate(args, step / steps, time.time() - started)
            opt.step()
            step += 1
            total += loss.item() * args.batch
            seen += args.batch
            if args.max_minutes and time.time() - started >= 60 * args.max_minutes:
                break  # the budget is spent; the learning rate is already near zero
        val = evaluate_loss(model, val_data, val_idx, args.batch * 2, args.focal_alpha)
        row = {"epoch": epoch, "train_loss": round(total / max(seen, 1), 4), "val": {k: round(v, 4) for k, v in val.items()},
               "s": round(time.time() - t0, 1)}
        history.append(row)
        print(json.dumps(row), flush=True)
        if val["total"] < best["val_loss"]:
            best = {"val_loss": val["total"], "epoch": epoch}
            save(model, args, args.out)
            since_best = 0
        else:
            since_best += 1
            if since_best >= args.patience:
                print(f"early stop: no val-loss gain for {args.patience} epochs", flush=True)
                break
        if progress(args, step / steps, time.time() - started) >= 1.0:
            print(f"schedule done after epoch {epoch} ({(time.time() - started) / 60:.1f} min)", flush=True)
            break
    summary = {
        "data": str(args.data), "val_data": str(args.val_data or args.data), "train_images": len(train_idx), "val_images": len(val_idx), "seed": args.seed,
        "variant": args.variant, "best": best, "epochs_run": sum(1 for h in history if h["epoch"] > 0),
        "from": None if args.start is None else {"checkpoint": str(args.start), "data": started_from.get("data")},
        "device": str(device),
        "device_name": torch.cuda.get_device_name() if device.type == "cuda" else f"cpu, {args.threads} threads",
        "minutes": round((time.time() - started) / 60, 1), "parameters": count_parameters(model),
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    ckpt = torch.load(args.out, weights_only=False)
    ckpt["training"], ckpt["history"] = summary, history
    torch.save(ckpt, args.out)
    return summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="folder in the DESIGN electrode COCO format")
    p.add_argument("--out", type=Path, required=True, help="checkpoint to write (.pt)")
    p.add_argument("--variant", choices=("base", "attention", "full"), default="full", help="ablation row")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=6)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--val-data", type=Path, help="validation folder (instead of a --val-fraction share of --data)")
    p.add_argument("--limit", type=int, help="use only the first N images")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-minutes", type=float, help="wall-clock budget: the schedule anneals by time and ends after the epoch that passes it")
    p.add_argument("--oversample", action="append", default=[], metavar="CLASS=K",
                   help="draw images that show CLASS K times as often (epochs keep their size); repeatable")
    p.add_argument("--focal-alpha", type=float, default=0.25, help="focal loss weight of the positive points")
    p.add_argument("--cpu", action="store_true", help="train on the CPU even when a GPU is present")
    p.add_argument("--from", dest="start", type=Path, metavar="CHECKPOINT",
                   help="start from this checkpoint's weights (same variant); kept as epoch 0 if no epoch beats it")
    args = p.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        print(json.dumps(train(args)))
    except StartError as e:
        raise SystemExit(f"electrode_train.py: {e}") from None


if __name__ == "__main__":
    main()
