"""Seal metrics shared by evaluation, export (model card) and the firmware's replay agreement report."""

from __future__ import annotations

import numpy as np

DEFECT_ORDER = ("crack", "narrow_width", "foreign_matter", "wrinkle", "contamination")


def seal_metrics(labels: np.ndarray, p_ng: np.ndarray, defects: list, threshold: float) -> dict:
    pred = (p_ng >= threshold).astype(np.int64)
    ok, ng = labels == 0, labels == 1
    cm = [[int(((labels == t) & (pred == p)).sum()) for p in (0, 1)] for t in (0, 1)]
    per_defect = {}
    # The patent's defects first in their order, any others by name (a set's order changes from run to run).
    for d in sorted({x for x in defects if x}, key=lambda x: ((DEFECT_ORDER + (x,)).index(x), x)):
        sel = np.asarray([x == d for x in defects])
        per_defect[d] = {"n": int(sel.sum()), "recall": float(pred[sel].mean())}
    return {
        "samples": int(len(labels)),
        "threshold": threshold,
        "accuracy": float((pred == labels).mean()),
        "ng_recall": float(pred[ng].mean()) if ng.any() else None,
        "false_reject_rate": float(pred[ok].mean()) if ok.any() else None,
        "confusion_matrix": {"rows": "true ok, true ng", "cols": "pred ok, pred ng", "counts": cm},
        "per_defect_recall": per_defect,
    }


def format_metrics(m: dict) -> str:
    cm = m["confusion_matrix"]["counts"]
    lines = [
        f"samples {m['samples']}  threshold {m['threshold']}",
        f"accuracy          {100 * m['accuracy']:.2f}%",
        f"NG recall         {100 * m['ng_recall']:.2f}%" if m["ng_recall"] is not None else "NG recall         n/a",
        f"OK false-reject   {100 * m['false_reject_rate']:.2f}%" if m["false_reject_rate"] is not None else "OK false-reject   n/a",
        "confusion matrix (rows true, cols predicted)",
        f"            ok      ng",
        f"  ok    {cm[0][0]:6d}  {cm[0][1]:6d}",
        f"  ng    {cm[1][0]:6d}  {cm[1][1]:6d}",
        "per-defect recall",
    ]
    for d, v in m["per_defect_recall"].items():
        lines.append(f"  {d:16s} {100 * v['recall']:6.2f}%  (n={v['n']})")
    return "\n".join(lines)
