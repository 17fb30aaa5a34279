"""Decoding of the detector's `det` output per the DESIGN contract, and the paper's metrics.

Decoding: score = max class probability, keep scores over the threshold, class-wise NMS at IoU 0.5, boxes
as x0, y0, x1, y1 in input pixels. The firmware decodes the same way; the golden fixtures hold both.
"""

from __future__ import annotations

import numpy as np

from electrode_data import CLASSES

NMS_IOU = 0.5


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes (x0, y0, x1, y1): (K, 4) x (M, 4) -> (K, M)."""
    ix0 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy0 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix1 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def decode(det: np.ndarray, score_threshold: float, max_detections: int = 100) -> np.ndarray:
    """One image's `det` (A, 4 + C) -> (K, 6): x0, y0, x1, y1, score, class; best first."""
    probs = det[:, 4:]
    cls = probs.argmax(1)
    score = probs.max(1)
    keep = score > score_threshold
    if not keep.any():
        return np.zeros((0, 6), np.float32)
    c = det[keep, :4]
    boxes = np.stack([c[:, 0] - c[:, 2] / 2, c[:, 1] - c[:, 3] / 2, c[:, 0] + c[:, 2] / 2, c[:, 1] + c[:, 3] / 2], 1)
    score, cls = score[keep], cls[keep]
    out = []
    for k in np.unique(cls):
        idx = np.nonzero(cls == k)[0]
        idx = idx[np.argsort(-score[idx], kind="stable")]
        while len(idx):
            i = idx[0]
            out.append((*boxes[i], score[i], k))
            if len(idx) == 1:
                break
            ious = iou_matrix(boxes[i : i + 1], boxes[idx[1:]])[0]
            idx = idx[1:][ious <= NMS_IOU]
    out.sort(key=lambda r: -r[4])
    return np.asarray(out[:max_detections], np.float32).reshape(-1, 6)


def average_precision(scores: np.ndarray, hits: np.ndarray, n_gt: int) -> float:
    """All-point interpolated AP (the area under the precision envelope)."""
    if n_gt == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(hits[order])
    fp = np.cumsum(~hits[order])
    recall = tp / n_gt
    precision = tp / np.maximum(tp + fp, 1e-9)
    r = np.concatenate([[0.0], recall, [recall[-1] if len(recall) else 0.0]])
    p = np.concatenate([[1.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    return float(np.sum((r[1:] - r[:-1]) * p[1:]))


def match(dets: np.ndarray, gts: np.ndarray, iou: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Greedy same-class matching, best score first. Returns (det is a hit, gt was found)."""
    hit = np.zeros(len(dets), bool)
    found = np.zeros(len(gts), bool)
    if len(dets) == 0 or len(gts) == 0:
        return hit, found
    ious = iou_matrix(dets[:, :4], gts[:, :4])
    same = dets[:, 5:6] == gts[None, :, 4]
    for i in np.argsort(-dets[:, 4], kind="stable"):
        cand = np.where(same[i] & ~found & (ious[i] >= iou), ious[i], -1)
        j = int(cand.argmax())
        if cand[j] >= 0:
            hit[i], found[j] = True, True
    return hit, found


class Accumulator:
    """Collects per-image results and reports the paper's metrics plus miss and false-detection rates."""

    def __init__(self, score_threshold: float):
        self.threshold = score_threshold
        self.per_class = {k: {"scores": [], "hits": [], "n_gt": 0} for k in range(len(CLASSES))}
        self.inter = np.zeros(len(CLASSES) + 1)
        self.union = np.zeros(len(CLASSES) + 1)
        self.gt_pixels = np.zeros(len(CLASSES) + 1)
        self.gt_total = self.gt_missed = self.det_total = self.det_false = 0
        self.images = self.image_correct = 0
        self.presence_correct = np.zeros(len(CLASSES))

    def add(self, dets: np.ndarray, gts: np.ndarray, seg_logits: np.ndarray, mask: np.ndarray, cls: np.ndarray) -> None:
        """dets from `decode` at a low threshold (for AP); gts (M, 5); seg (C+1, H, W); mask (H, W); cls (C,)."""
        for k in range(len(CLASSES)):
            d, g = dets[dets[:, 5] == k], gts[gts[:, 4] == k]
            hit, _ = match(d, g)
            self.per_class[k]["scores"].append(d[:, 4])
            self.per_class[k]["hits"].append(hit)
            self.per_class[k]["n_gt"] += len(g)
        kept = dets[dets[:, 4] >= self.threshold]
        hit, found = match(kept, gts)
        self.gt_total += len(gts)
        self.gt_missed += int((~found).sum())
        self.det_total += len(kept)
        self.det_false += int((~hit).sum())
        self.images += 1
        self.image_correct += int((len(kept) > 0) == (len(gts) > 0))
        present = np.zeros(len(CLASSES), bool)
        present[gts[:, 4].astype(int)] = True
        self.presence_correct += (cls >= 0.5) == present
        pred = seg_logits.argmax(0)
        for c in range(len(CLASSES) + 1):
            p, t = pred == c, mask == c
            self.inter[c] += np.logical_and(p, t).sum()
            self.union[c] += np.logical_or(p, t).sum()
            self.gt_pixels[c] += t.sum()

    def report(self) -> dict:
        """The metrics; a figure with nothing to measure (a class with no instance in the set, a miss rate of a
        set without defects) is None, shown as "n/a", and left out of the means."""
        ap = {}
        for k, v in self.per_class.items():
            scores = np.concatenate(v["scores"]) if v["scores"] else np.zeros(0)
            hits = np.concatenate(v["hits"]) if v["hits"] else np.zeros(0, bool)
            a = average_precision(scores, hits, v["n_gt"])
            ap[CLASSES[k]] = None if np.isnan(a) else a
        # A class no label marks has no IoU to measure: its false positives count in the false-detection rate.
        iou = {CLASSES[c - 1]: float(self.inter[c] / self.union[c]) if self.gt_pixels[c] else None
               for c in range(1, len(CLASSES) + 1)}
        valid_ap = [v for v in ap.values() if v is not None]
        valid_iou = [v for v in iou.values() if v is not None]
        return {
            "images": self.images,
            "defects": self.gt_total,
            "defects_per_class": {CLASSES[k]: v["n_gt"] for k, v in self.per_class.items()},
            "score_threshold": self.threshold,
            "map50": float(np.mean(valid_ap)) if valid_ap else None,
            "ap50": ap,
            "seg_iou_mean": float(np.mean(valid_iou)) if valid_iou else None,
            "seg_iou": iou,
            "background_iou": float(self.inter[0] / max(self.union[0], 1)),
            "miss_rate": self.gt_missed / self.gt_total if self.gt_total else None,
            "false_detection_rate": self.det_false / max(self.det_total, 1),
            "detections": self.det_total,
            "image_accuracy": self.image_correct / max(self.images, 1),
            "presence_accuracy": {CLASSES[k]: float(v / max(self.images, 1)) for k, v in enumerate(self.presence_correct)},
        }


def pct(v) -> str:
    """A rate as a percentage; "n/a" when the set gave nothing to measure it on."""
    return "n/a" if v is None else f"{100 * v:.2f}%"


def format_report(m: dict) -> str:
    lines = [
        f"images {m['images']}  defects {m['defects']}  score threshold {m['score_threshold']}",
        f"mAP@0.5             {pct(m['map50'])}",
        f"mean seg IoU        {pct(m['seg_iou_mean'])}",
        f"miss rate           {pct(m['miss_rate'])}",
        f"false-detection     {pct(m['false_detection_rate'])}  ({m['detections']} detections)",
        f"image accuracy      {pct(m['image_accuracy'])}",
        "per class            AP@0.5    seg IoU   instances",
    ]
    for c in CLASSES:
        n = m.get("defects_per_class", {}).get(c, "")
        lines.append(f"  {c:16s} {pct(m['ap50'][c]):>8s}  {pct(m['seg_iou'][c]):>8s}  {n:>9}")
    return "\n".join(lines)
