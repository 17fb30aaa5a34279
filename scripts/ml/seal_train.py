"""Trains (or fine-tunes) the seal classifier on folders in the DESIGN seal format and rendered pools.

Training data: any mix of `--data DIR` (DESIGN seal format) and `--pool NPZ` (seal_pool.py: one recipe per
pair). Model selection (the epoch kept, and the NG threshold written into the checkpoint) uses
`--select-data`/`--select-pool` when given, else a seeded share (`--val-fraction`) of the training data.

Besides the labelled pairs, every batch carries NG pairs made on the fly, because a station must reject
them and no dataset labels them:
- wrong reference: an OK live image against another recipe's reference (an operator loaded the wrong
  recipe: the part must be rejected, not passed); with `--hard-wrong K` the other reference is the most
  alike of K drawn ones (lines run look-alike recipes; a random other recipe is mostly an easy case);
  with `--peer-wrong P`, a share P of the wrong references of a `--data` folder's pairs is another
  recipe of that same folder (a line's own recipes are the ones an operator confuses);
- blank live frames: black, white, flat grey, pure noise (lens cap, dead lighting, camera pointed away);
and a few OK pairs of the reference against itself (with fresh noise).
With `--select-wrong`, the selection set also holds wrong-reference NG pairs (every OK pair of a selection
folder against each other recipe of that folder, and OK pool pairs against the most alike of 8 other
references), so the epoch and the threshold are chosen on the fail-safe too.
Live and reference are mirrored together (left-right and top-bottom), which keeps a pair consistent.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import seal_pool
from seal_data import MEAN, STD, SealSet, concat, load_set, other_reference, read_manifest, thumbnails
from seal_model import SealClassifier, load_checkpoint

MEAN_T = torch.tensor(MEAN).view(1, 3, 1, 1)
STD_T = torch.tensor(STD).view(1, 3, 1, 1)


def to_input(u8: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(u8)).permute(0, 3, 1, 2).float().div_(255.0)
    return (x - MEAN_T) / STD_T


def blank_frames(rng: np.random.Generator, n: int, hw: tuple[int, int]) -> np.ndarray:
    """Frames with no seal in them: flat at any level (with a little sensor noise or a gradient), or noise."""
    h, w = hw
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        kind = rng.integers(4)
        if kind == 3:
            out[i] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            continue
        level = {0: rng.uniform(0, 25), 1: rng.uniform(230, 255), 2: rng.uniform(25, 230)}[int(kind)]
        ramp = np.linspace(-1, 1, w)[None, :, None] * rng.uniform(0, 12)
        px = level + ramp + rng.normal(0, rng.uniform(0, 4), (h, w, 3))
        out[i] = np.clip(px, 0, 255).astype(np.uint8)
    return out


def make_batch(data, b: np.ndarray, rng: np.random.Generator, wrong_ref: float, blank: float, same: float,
               hard: int = 0, thumbs=None, peers=None, peer_wrong: float = 0.0):
    """Images, references and labels of a batch, with some pairs replaced by made-up NG pairs.
    `peers[r]`: the (start, end) of the references of r's own folder, or (0, 0) for a pool's."""
    img = data.images[b].copy()
    ref_idx = data.ref_index[b].copy()
    labels = data.labels[b].copy()
    n = len(b)
    ok = np.flatnonzero(labels == 0)
    n_wrong = min(len(ok), int(rng.binomial(n, wrong_ref))) if len(data.references) > 1 else 0
    for i in rng.choice(ok, n_wrong, replace=False):
        own = int(ref_idx[i])
        lo, hi = peers[own] if peers is not None else (0, 0)
        if hi - lo > 1 and rng.random() < peer_wrong:
            pick = int(rng.integers(lo, hi - 1))
            ref_idx[i] = pick if pick < own else pick + 1
        else:
            ref_idx[i] = other_reference(data, own, rng, hard, thumbs)
        labels[i] = 1
    # A few OK pairs are the reference itself with fresh sensor noise: an unchanged seal is always OK,
    # whatever the scene (the station's self-test judges the reference against itself).
    for i in rng.choice(ok, min(len(ok), int(rng.binomial(n, same))), replace=False):
        if labels[i] == 0:
            noisy = data.references[ref_idx[i]] + rng.normal(0, rng.uniform(0.5, 3), img.shape[1:])
            img[i] = np.clip(noisy, 0, 255).astype(np.uint8)
    n_blank = int(rng.binomial(n, blank))
    if n_blank:
        slots = rng.choice(n, n_blank, replace=False)
        img[slots] = blank_frames(rng, n_blank, img.shape[1:3])
        labels[slots] = 1
    ref = data.references[ref_idx]
    if rng.random() < 0.5:
        img, ref = img[:, :, ::-1], ref[:, :, ::-1]
    if rng.random() < 0.3:
        img, ref = img[:, ::-1], ref[:, ::-1]
    return img, ref, labels


def predict(model, data, idx, batch=256) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(idx), batch):
            b = idx[s : s + batch]
            logits = model.logits(to_input(data.images[b]), to_input(data.references[data.ref_index[b]]))
            out.append(torch.softmax(logits, 1)[:, 1].numpy())
    return np.concatenate(out)


def selection_loss(p_ng: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(np.where(labels == 1, p_ng, 1 - p_ng), 1e-7, 1.0)
    return float(-np.log(p).mean())


def choose_threshold(p_ng: np.ndarray, labels: np.ndarray) -> float:
    """Fewest errors on the selection set, misses counted twice (a passed bad part costs more than a
    rejected good one); within the band the firmware accepts (0.05..0.95); ties go to the middle."""
    best = (float("inf"), 0.5)
    for t in np.round(np.arange(0.05, 0.951, 0.01), 2):
        cost = 2 * np.sum((p_ng < t) & (labels == 1)) + np.sum((p_ng >= t) & (labels == 0))
        key = (cost, abs(t - 0.5))
        if key < (best[0], abs(best[1] - 0.5)):
            best = (cost, float(t))
    return best[1]


def load_sources(dirs: list[Path], pools: list[Path]):
    sets = [load_set(d) for d in dirs] + [seal_pool.load(p) for p in pools]
    return concat(sets) if sets else None


def peer_ranges(dirs: list[Path], data) -> np.ndarray:
    """[R,2]: for each reference of `data` (load_sources' order: folders first), the range of its own
    folder's references; (0, 0) for a pool's (every pool pair has a recipe of its own)."""
    out = np.zeros((len(data.references), 2), np.int64)
    start = 0
    for d in dirs:
        n = len({r["reference"] for r in read_manifest(Path(d))})
        out[start : start + n] = (start, start + n)
        start += n
    return out


def with_wrong_pairs(select, dirs: list[Path], n_pool: int = 600):
    """The selection set plus wrong-reference NG pairs: each OK pair of a selection folder against every
    other recipe of its folder, and `n_pool` OK pool pairs against the most alike of 8 other references
    (seeded: the same pairs for every candidate)."""
    peers = peer_ranges(dirs, select)
    imgs, refs = [], []
    ok = np.flatnonzero(select.labels == 0)
    for i in ok:
        own = int(select.ref_index[i])
        lo, hi = peers[own]
        for r in range(lo, hi):
            if r != own:
                imgs.append(i)
                refs.append(r)
    pool_ok = ok[peers[select.ref_index[ok], 1] == 0][:n_pool]
    rng, thumbs = np.random.default_rng(0), thumbnails(select.references)
    for i in pool_ok:
        imgs.append(i)
        refs.append(other_reference(select, int(select.ref_index[i]), rng, 8, thumbs))
    imgs, refs = np.asarray(imgs, np.int64), np.asarray(refs, np.int64)
    return SealSet(root=select.root, images=np.concatenate([select.images, select.images[imgs]]),
                   ref_index=np.concatenate([select.ref_index, refs]), references=select.references,
                   labels=np.concatenate([select.labels, np.ones(len(imgs), np.int64)]),
                   defects=select.defects + ["wrong_reference"] * len(imgs),
                   image_paths=select.image_paths + [select.image_paths[i] for i in imgs])


def train(args) -> dict:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    data = load_sources(args.data, args.pool)
    if data is None:
        raise SystemExit("nothing to train on: give --data and/or --pool")
    select = load_sources(args.select_data, args.select_pool)
    if select is None:  # a seeded share of the training data
        order = rng.permutation(len(data.labels))
        n_val = max(1, int(len(order) * args.val_fraction))
        select, select_idx, train_idx = data, order[:n_val], order[n_val:]
        n_labelled = len(data.labels)
    else:
        n_labelled = len(select.labels)
        if args.select_wrong:
            select = with_wrong_pairs(select, args.select_data)
        select_idx, train_idx = np.arange(len(select.labels)), np.arange(len(data.labels))
    if args.max_train:  # quick experiments: a seeded subset
        train_idx = rng.permutation(train_idx)[: args.max_train]
        select_idx = rng.permutation(select_idx)[: max(200, args.max_train // 5)]
    if args.init:
        model, _ = load_checkpoint(args.init)
        model.train()
    else:
        model = SealClassifier(dim=args.dim, alpha=args.alpha, attention=not args.no_attention,
                               standardise=args.standardise, fine=args.fine, same_pos=args.same_pos)
    thumbs = thumbnails(data.references) if args.hard_wrong > 1 else None
    peers = peer_ranges(args.data, data)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = (len(train_idx) + args.batch - 1) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.15)
    best = {"select_loss": float("inf")}
    history, since_best, started = [], 0, time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0 = time.time()
        perm = rng.permutation(train_idx)
        total = 0.0
        for s in range(0, len(perm), args.batch):
            img, ref, y = make_batch(data, perm[s : s + args.batch], rng, args.wrong_ref, args.blank, args.same,
                                   args.hard_wrong, thumbs, peers, args.peer_wrong)
            loss = F.cross_entropy(model.logits(to_input(img), to_input(ref)), torch.from_numpy(y))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(y)
        p_ng = predict(model, select, select_idx)
        y_sel = select.labels[select_idx]
        sel_loss = selection_loss(p_ng, y_sel)
        row = {"epoch": epoch, "train_loss": total / len(perm), "select_loss": sel_loss,
               "select_acc": float(((p_ng >= 0.5) == (y_sel == 1)).mean()), "s": round(time.time() - t0, 1)}
        history.append(row)
        print(json.dumps(row), flush=True)
        if sel_loss < best["select_loss"]:
            best = {"select_loss": sel_loss, "select_acc": row["select_acc"], "epoch": epoch}
            torch.save({"config": model.config, "state_dict": model.state_dict()}, args.out)
            since_best = 0
        else:
            since_best += 1
            if since_best >= args.patience:
                print(f"early stop: no selection-loss gain for {args.patience} epochs", flush=True)
                break
        if args.stop_after and epoch >= args.stop_after:
            print(f"stop: {args.stop_after} epochs of the {args.epochs}-epoch schedule run, as asked", flush=True)
            break
        if args.max_minutes and (time.time() - started) / 60 > args.max_minutes:
            print(f"stop: the {args.max_minutes}-minute budget is spent", flush=True)
            break
    best_model, ckpt = load_checkpoint(args.out)
    p_best = predict(best_model, select, select_idx)
    # The threshold is the operating point for real parts: chosen on the labelled pairs only (a wrong
    # recipe is an operator's rare mistake, not what a part looks like).
    labelled = select_idx < n_labelled
    threshold = choose_threshold(p_best[labelled], select.labels[select_idx][labelled])
    summary = {
        "data": [str(d) for d in args.data] + [str(p) for p in args.pool],
        "select": [str(d) for d in args.select_data] + [str(p) for p in args.select_pool] or "val-fraction split",
        "train_samples": len(train_idx),
        "select_samples": len(select_idx),
        "seed": args.seed,
        "best": best,
        "threshold": threshold,
        "epochs_run": len(history),
        "minutes": round((time.time() - started) / 60, 1),
        "config": best_model.config,
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    ckpt["training"] = summary
    ckpt["history"] = history
    torch.save(ckpt, args.out)
    return summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, action="append", default=[], help="folder in the DESIGN seal format")
    p.add_argument("--pool", type=Path, action="append", default=[], help="rendered pool (seal_pool.py)")
    p.add_argument("--select-data", type=Path, action="append", default=[], help="selection folder")
    p.add_argument("--select-pool", type=Path, action="append", default=[], help="selection pool")
    p.add_argument("--out", type=Path, required=True, help="checkpoint to write (.pt)")
    p.add_argument("--init", type=Path, help="checkpoint to fine-tune from (its architecture is kept)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=24)
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--stop-after", type=int, default=0,
                   help="stop after this many epochs, the learning-rate schedule still laid out for --epochs")
    p.add_argument("--max-minutes", type=float, default=0, help="stop after this many minutes (0: no limit)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--alpha", type=float, default=1.0, help="distribution-gain weight (0 disables it)")
    p.add_argument("--no-attention", action="store_true", help="ablation: pooled-vector comparison instead")
    p.add_argument("--standardise", action="store_true", help="per-image standardisation in the encoder")
    p.add_argument("--fine", action="store_true", help="8x32 encoder tokens instead of 4x16")
    p.add_argument("--same-pos", action="store_true", help="also compare each token with the one at its place")
    p.add_argument("--max-train", type=int, default=0, help="train on a seeded subset (quick experiments)")
    p.add_argument("--wrong-ref", type=float, default=0.1, help="share of pairs made wrong-reference NG")
    p.add_argument("--hard-wrong", type=int, default=0,
                   help="wrong reference = the most alike of this many drawn ones (0/1: any other)")
    p.add_argument("--peer-wrong", type=float, default=0.0,
                   help="share of a --data folder's wrong references drawn from that folder's own recipes")
    p.add_argument("--select-wrong", action="store_true",
                   help="choose the epoch and threshold on wrong-reference pairs too")
    p.add_argument("--blank", type=float, default=0.04, help="share of pairs made blank-frame NG")
    p.add_argument("--same", type=float, default=0.02, help="share of pairs made reference-vs-itself OK")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(json.dumps(train(args)))


if __name__ == "__main__":
    main()
