"""The seal classifier of the patent: Siamese CNN encoders, inter-feature attention interaction,
distribution gain (DESIGN.md's form), fully connected classifier with Softmax.

The two encoders have the same structure and share weights, so one exported encoder graph embeds both the
live image and the recipe's reference (the station encodes each reference once).
"""

from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F


def conv_bn(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Encoder(nn.Module):
    """Compact CNN: [N,3,64,256] -> feature tokens [N, T, D] (spatial tokens of the last map: 4x16, or
    8x32 with `fine`)."""

    def __init__(self, dim: int = 64, standardise: bool = False, fine: bool = False):
        super().__init__()
        # Per-image standardisation: a capture's exposure, gain and film tone say nothing about the seal,
        # so the encoder sees each image with zero mean and unit spread (a blank frame stays flat: the
        # floor keeps sensor noise from being blown up into texture).
        self.standardise = standardise
        self.body = nn.Sequential(
            conv_bn(3, 24, 2),
            conv_bn(24, 32, 2),
            conv_bn(32, 32, 1),
            conv_bn(32, 64, 2),
            conv_bn(64, 64, 1),
            # `fine`: the last stage keeps 8x32 tokens (stride 8), so a defect a few pixels wide still
            # owns a token of its own when live and reference are compared.
            conv_bn(64, 96, 1 if fine else 2),
            nn.Conv2d(96, dim, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.standardise:
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            spread = (x - mean).pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
            x = (x - mean) / (spread + 0.1)
        f = self.body(x)  # [N, D, 4, 16] or [N, D, 8, 32]
        return f.flatten(2).transpose(1, 2)  # [N, T, D]


class CrossAttention(nn.Module):
    """Queries from one side, keys/values from the other; written as MatMul+Softmax for a clean export."""

    def __init__(self, dim: int, heads: int = 4):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        n, t, d = a.shape
        h = self.heads
        q = self.q(a).reshape(n, t, h, d // h).transpose(1, 2)
        k, v = self.kv(b).reshape(n, b.shape[1], 2, h, d // h).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // h), dim=-1)
        return self.out((att @ v).transpose(1, 2).reshape(n, t, d))


def distribution_gain(v: torch.Tensor, alpha: float, eps: float = 1e-6) -> torch.Tensor:
    """v'_i = v_i (1 + alpha (1 - m_i)), m_i = 1 / (1 + v_i^2 / s^2), s^2 = ||V||^2 / L + eps (DESIGN.md)."""
    s2 = v.pow(2).mean(dim=-1, keepdim=True) + eps
    m = 1.0 / (1.0 + v.pow(2) / s2)
    return v * (1.0 + alpha * (1.0 - m))


class Head(nn.Module):
    """Embeddings of the live image and the reference -> probabilities [N, 2] (0 = OK, 1 = NG)."""

    def __init__(self, dim: int = 64, tokens: int = 64, alpha: float = 1.0, attention: bool = True, same_pos: bool = False):
        super().__init__()
        self.alpha = alpha
        self.attention = attention
        # `same_pos`: each live token is also compared with the reference token at its own place (live
        # and reference are roughly aligned by the station), beside what attention finds for it anywhere.
        self.same_pos = same_pos
        parts = 4 if same_pos else 3
        self.pos = nn.Parameter(torch.zeros(1, tokens, dim))
        nn.init.normal_(self.pos, std=0.02)
        if attention:
            self.live_to_ref = CrossAttention(dim)
            self.ref_to_live = CrossAttention(dim)
            self.fuse_live = nn.Sequential(nn.Linear(parts * dim, dim), nn.ReLU(inplace=True))
            self.fuse_ref = nn.Sequential(nn.Linear(parts * dim, dim), nn.ReLU(inplace=True))
        else:
            self.fuse_live = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(inplace=True))
        self.classifier = nn.Sequential(
            nn.Linear(4 * dim, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(0.1),
            nn.Linear(128, 64),
            nn.ReLU(inplace=True),
            nn.Linear(64, 2),
        )

    def interaction(self, live: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        live = live + self.pos
        ref = ref + self.pos
        if self.attention:
            a_l = self.live_to_ref(live, ref)  # what in the reference each live token corresponds to
            a_r = self.ref_to_live(ref, live)
            if self.same_pos:
                u_l = self.fuse_live(torch.cat([live, a_l, live - a_l, live - ref], dim=-1))
                u_r = self.fuse_ref(torch.cat([ref, a_r, ref - a_r, ref - live], dim=-1))
            else:
                u_l = self.fuse_live(torch.cat([live, a_l, live - a_l], dim=-1))
                u_r = self.fuse_ref(torch.cat([ref, a_r, ref - a_r], dim=-1))
            return torch.cat([u_l.amax(1), u_l.mean(1), u_r.amax(1), u_r.mean(1)], dim=-1)
        # Ablation: the classic Siamese comparison of pooled vectors, no attention between features.
        p_l, p_r = self.fuse_live(live), self.fuse_live(ref)
        return torch.cat([p_l.amax(1) - p_r.amax(1), p_l.mean(1) - p_r.mean(1), p_l.amax(1), p_r.amax(1)], dim=-1)

    def logits(self, live: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        v = self.interaction(live, ref)
        if self.alpha > 0:
            v = distribution_gain(v, self.alpha)
        return self.classifier(v)

    def forward(self, embedding: torch.Tensor, reference_embedding: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(embedding, reference_embedding), dim=-1)


class SealClassifier(nn.Module):
    def __init__(self, dim: int = 64, alpha: float = 1.0, attention: bool = True, standardise: bool = False,
                 fine: bool = False, same_pos: bool = False):
        super().__init__()
        self.config = {"dim": dim, "alpha": alpha, "attention": attention, "standardise": standardise,
                       "fine": fine, "same_pos": same_pos}
        self.encoder = Encoder(dim, standardise, fine)
        self.head = Head(dim, 256 if fine else 64, alpha, attention, same_pos)

    def logits(self, image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        # One encoder pass over live and reference together: in training, BatchNorm then normalises both
        # with the same batch statistics, as the running statistics will at inference. (Encoding them
        # separately let the few distinct references skew their own batch statistics.)
        # In eval mode BatchNorm is per-sample, so the exported graph encodes each input on its own
        # (no batch-size-dependent split traced into it).
        if not self.training:
            return self.head.logits(self.encoder(image), self.encoder(reference))
        both = self.encoder(torch.cat([image, reference], dim=0))
        live, ref = both.split(image.shape[0], dim=0)
        return self.head.logits(live, ref)

    def forward(self, image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(image, reference), dim=-1)


def load_checkpoint(path) -> tuple[SealClassifier, dict]:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    model = SealClassifier(**ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model, ckpt
