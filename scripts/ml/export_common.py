"""What both model exports share: the weights fingerprint for the manifest, the CPU ONNX Runtime session
they check parity and latency with, and the latency measurement itself."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import onnxruntime as ort


def weights_sha256(model) -> str:
    """SHA-256 over a torch module's state dict, names and values in name order."""
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def cpu_session(path: Path, threads: int = 2) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def time_ms(fn, repeat: int, warmup: int, digits: int) -> dict:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
    ts.sort()
    return {"p50": round(ts[len(ts) // 2], digits), "p99": round(ts[int(len(ts) * 0.99) - 1], digits),
            "mean": round(sum(ts) / len(ts), digits)}
