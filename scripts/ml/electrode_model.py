"""The multi-modal electrode detector of the paper (`shared/seeds/electrode-paper.en.txt`), sized for the edge.

- Visible branch, EfficientNet style: MBConv blocks (expand, depthwise, squeeze-excite, project).
- X-ray branch, Swin style: patch embedding, windowed self-attention with shifted windows and relative
  position bias, patch merging.
- Cross-modal fusion at strides 4, 8 and 16, as the paper writes it:
  F = Softmax(Q_vis K_xray^T / sqrt(d)) V_xray + F_vis, multi-head, inside local windows (global at stride 16)
  with a relative position bias so a visible location can find the X-ray evidence at the same place.
  A linear projection maps the attended X-ray values back to the visible channel count.
- Improved CBAM (channel attention from average- and max-pooled descriptors through one shared MLP, then
  spatial attention) and dynamic depthwise-separable convolutions (K depthwise kernels mixed per sample by
  an input-conditioned softmax) in the feature pyramid.
- Heads: image-level classification (`cls`), anchor-free boxes on the stride-4 grid (`det`: cx, cy, w, h in
  input pixels, then sigmoid class probabilities), full-resolution segmentation logits (`seg`, channel 0 =
  background, by sub-pixel convolution from the stride-4 grid).

The ablation switches (`fusion`, `cbam`, `dynamic`) rebuild the paper's table: base (additive fusion, plain
convolutions), + cross-modal attention, + CBAM and dynamic depthwise-separable convolution.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from electrode_contract import DET_STRIDE, NUM_CLASSES, SIZE, VIS_MEAN, VIS_STD, XRAY_MEAN, XRAY_STD  # noqa: F401


def conv_bn(cin: int, cout: int, k: int = 1, s: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 3, s: int = 1, expand: int = 4):
        super().__init__()
        mid = cin * expand
        self.residual = s == 1 and cin == cout
        self.expand = conv_bn(cin, mid)
        self.dw = conv_bn(mid, mid, k, s, groups=mid)
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(mid, max(8, cin // 4), 1), nn.SiLU(),
                                nn.Conv2d(max(8, cin // 4), mid, 1), nn.Sigmoid())
        self.project = conv_bn(mid, cout, act=False)

    def forward(self, x):
        y = self.dw(self.expand(x))
        y = self.project(y * self.se(y))
        return x + y if self.residual else y


class VisibleBranch(nn.Module):
    """Feature maps at strides 4, 8, 16 (24, 40, 80 channels)."""

    channels = (24, 40, 80)

    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 16, 3, 2)
        self.s4 = nn.Sequential(MBConv(16, 24, 3, 2, expand=2), MBConv(24, 24, 3, expand=3))
        self.s8 = nn.Sequential(MBConv(24, 40, 5, 2), MBConv(40, 40, 5))
        self.s16 = nn.Sequential(MBConv(40, 80, 3, 2), MBConv(80, 80, 3), MBConv(80, 80, 3))

    def forward(self, x):
        f4 = self.s4(self.stem(x))
        f8 = self.s8(f4)
        return f4, f8, self.s16(f8)


def relative_index(w: int) -> torch.Tensor:
    coords = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (w - 1)
    return rel[..., 0] * (2 * w - 1) + rel[..., 1]


def windows(x: torch.Tensor, w: int) -> torch.Tensor:
    """(N, H, W, C) -> (N * H/w * W/w, w*w, C)."""
    _, h, wd, c = x.shape
    x = x.reshape(-1, h // w, w, wd // w, w, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, w * w, c)


def unwindows(x: torch.Tensor, w: int, h: int, wd: int) -> torch.Tensor:
    c = x.shape[-1]
    x = x.reshape(-1, h // w, wd // w, w, w, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, h, wd, c)


class WindowAttention(nn.Module):
    """Multi-head attention inside windows, written as MatMul + Softmax (exports cleanly to ONNX).

    Queries come from `q_in`, keys and values from `kv_in`: the same tensor for self-attention, the other
    modality for cross-attention.
    """

    def __init__(self, q_dim: int, kv_dim: int, dim: int, heads: int, window: int, out_dim: int):
        super().__init__()
        self.heads, self.window, self.scale = heads, window, (dim // heads) ** -0.5
        self.q = nn.Linear(q_dim, dim)
        self.kv = nn.Linear(kv_dim, 2 * dim)
        self.proj = nn.Linear(dim, out_dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        self.register_buffer("bias_index", relative_index(window).reshape(-1), persistent=False)

    def forward(self, q_in: torch.Tensor, kv_in: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        t = q_in.shape[1]
        hd = self.q.out_features // self.heads
        q = self.q(q_in).reshape(-1, t, self.heads, hd).transpose(1, 2)
        k, v = self.kv(kv_in).reshape(-1, t, 2, self.heads, hd).permute(2, 0, 3, 1, 4)
        attn = torch.matmul(q * self.scale, k.transpose(-2, -1))
        bias = self.bias_table[self.bias_index].reshape(t, t, self.heads).permute(2, 0, 1)
        attn = attn + bias.unsqueeze(0)
        if mask is not None:  # shifted windows: tokens from different regions must not attend
            nw = mask.shape[0]
            attn = (attn.reshape(-1, nw, self.heads, t, t) + mask[None, :, None]).reshape(-1, self.heads, t, t)
        out = torch.matmul(attn.softmax(-1), v).transpose(1, 2).reshape(-1, t, self.heads * hd)
        return self.proj(out)


def shift_mask(size: int, window: int, shift: int) -> torch.Tensor:
    region = torch.zeros(1, size, size, 1)
    n = 0
    for hs in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
        for ws in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
            region[:, hs, ws, :] = n
            n += 1
    r = windows(region, window).squeeze(-1)
    return (r[:, None, :] != r[:, :, None]).float() * -100.0


class SwinBlock(nn.Module):
    def __init__(self, dim: int, heads: int, size: int, window: int, shifted: bool):
        super().__init__()
        self.window = min(window, size)
        self.shift = self.window // 2 if shifted and size > window else 0
        self.size = size
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, dim, dim, heads, self.window, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        mask = shift_mask(size, self.window, self.shift) if self.shift else None
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x):  # (N, H, W, C)
        y = self.norm1(x)
        if self.shift:
            y = torch.roll(y, (-self.shift, -self.shift), (1, 2))
        w = windows(y, self.window)
        y = unwindows(self.attn(w, w, self.mask), self.window, self.size, self.size)
        if self.shift:
            y = torch.roll(y, (self.shift, self.shift), (1, 2))
        x = x + y
        return x + self.mlp(self.norm2(x))


class PatchMerge(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduce = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x):  # (N, H, W, C) -> (N, H/2, W/2, 2C)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduce(self.norm(x))


class XrayBranch(nn.Module):
    """Feature maps (NCHW) at strides 4, 8, 16 (32, 64, 128 channels)."""

    channels = (32, 64, 128)

    def __init__(self, window: int = 8):
        super().__init__()
        self.embed = nn.Conv2d(1, 32, 4, 4)
        self.embed_norm = nn.LayerNorm(32)
        s = SIZE // 4
        self.stage4 = nn.Sequential(SwinBlock(32, 2, s, window, False), SwinBlock(32, 2, s, window, True))
        self.merge8 = PatchMerge(32)
        self.stage8 = nn.Sequential(SwinBlock(64, 4, s // 2, window, False), SwinBlock(64, 4, s // 2, window, True))
        self.merge16 = PatchMerge(64)
        self.stage16 = nn.Sequential(SwinBlock(128, 4, s // 4, window, False),
                                     SwinBlock(128, 4, s // 4, window, True))

    def forward(self, x):
        x = self.embed_norm(self.embed(x).permute(0, 2, 3, 1))
        f4 = self.stage4(x)
        f8 = self.stage8(self.merge8(f4))
        f16 = self.stage16(self.merge16(f8))
        return tuple(f.permute(0, 3, 1, 2) for f in (f4, f8, f16))


class CrossModalFusion(nn.Module):
    """F = Softmax(Q_vis K_xray^T / sqrt(d)) V_xray + F_vis, within windows (global when the map fits one)."""

    def __init__(self, vis_dim: int, xray_dim: int, dim: int, heads: int, size: int, window: int):
        super().__init__()
        self.window, self.size = min(window, size), size
        self.norm_v = nn.LayerNorm(vis_dim)
        self.norm_x = nn.LayerNorm(xray_dim)
        self.attn = WindowAttention(vis_dim, xray_dim, dim, heads, self.window, vis_dim)

    def forward(self, vis, xray):
        v = vis.permute(0, 2, 3, 1)
        q = windows(self.norm_v(v), self.window)
        kv = windows(self.norm_x(xray.permute(0, 2, 3, 1)), self.window)
        out = unwindows(self.attn(q, kv), self.window, self.size, self.size)
        return (out + v).permute(0, 3, 1, 2)


class AdditiveFusion(nn.Module):
    """Ablation base: F = F_vis + Conv1x1(F_xray)."""

    def __init__(self, vis_dim: int, xray_dim: int):
        super().__init__()
        self.proj = conv_bn(xray_dim, vis_dim, act=False)

    def forward(self, vis, xray):
        return vis + self.proj(xray)


class CBAM(nn.Module):
    """Improved CBAM: channel attention from GAP and GMP through one shared MLP, then spatial attention."""

    def __init__(self, c: int, reduction: int = 4):
        super().__init__()
        self.mlp = nn.Sequential(nn.Conv2d(c, c // reduction, 1), nn.ReLU(), nn.Conv2d(c // reduction, c, 1))
        self.spatial = nn.Conv2d(2, 1, 7, padding=3)

    def forward(self, x):
        a = self.mlp(F.adaptive_avg_pool2d(x, 1)) + self.mlp(F.adaptive_max_pool2d(x, 1))
        x = x * torch.sigmoid(a)
        s = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)
        return x * torch.sigmoid(self.spatial(s))


class DynamicSeparable(nn.Module):
    """Depthwise-separable conv whose depthwise kernel is a per-sample softmax mix of K kernels.

    By linearity, mixing the K depthwise outputs equals convolving with the mixed kernel; one grouped
    convolution computes all K, which exports to plain ONNX ops.
    """

    def __init__(self, c: int, cout: int, k: int = 4, temperature: float = 4.0):
        super().__init__()
        self.k, self.t = k, temperature
        self.dw = nn.Conv2d(c, c * k, 3, 1, 1, groups=c, bias=False)
        self.route = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, max(8, c // 4), 1), nn.ReLU(),
                                   nn.Conv2d(max(8, c // 4), k, 1))
        self.bn = nn.BatchNorm2d(c)
        self.pw = conv_bn(c, cout)

    def forward(self, x):
        n, c, h, w = x.shape
        a = torch.softmax(self.route(x) / self.t, 1).reshape(-1, 1, self.k, 1, 1)
        y = (self.dw(x).reshape(-1, c, self.k, h, w) * a).sum(2)
        return self.pw(F.silu(self.bn(y)))


def separable(c: int, cout: int) -> nn.Sequential:
    return nn.Sequential(conv_bn(c, c, 3, 1, groups=c), conv_bn(c, cout))


class PyramidBlock(nn.Module):
    def __init__(self, c: int, dynamic: bool, cbam: bool):
        super().__init__()
        self.conv = DynamicSeparable(c, c) if dynamic else separable(c, c)
        self.cbam = CBAM(c) if cbam else nn.Identity()

    def forward(self, x):
        return self.cbam(self.conv(x))


class ElectrodeDetector(nn.Module):
    def __init__(self, fusion: str = "attention", cbam: bool = True, dynamic: bool = True, width: int = 64):
        super().__init__()
        self.config = {"fusion": fusion, "cbam": cbam, "dynamic": dynamic, "width": width, "size": SIZE}
        self.visible = VisibleBranch()
        self.xray = XrayBranch()
        sizes = (SIZE // 4, SIZE // 8, SIZE // 16)
        dims, heads, wins = (32, 64, 64), (2, 4, 4), (8, 8, 16)
        self.fuse = nn.ModuleList(
            CrossModalFusion(cv, cx, d, h, s, w) if fusion == "attention" else AdditiveFusion(cv, cx)
            for cv, cx, d, h, s, w in zip(VisibleBranch.channels, XrayBranch.channels, dims, heads, sizes, wins)
        )
        self.lateral = nn.ModuleList(conv_bn(c, width) for c in VisibleBranch.channels)
        self.p16 = PyramidBlock(width, dynamic, cbam)
        self.p8 = PyramidBlock(width, dynamic, cbam)
        self.p4 = PyramidBlock(width, dynamic, cbam)
        # Detection head on the stride-4 grid.
        self.det_tower = nn.Sequential(separable(width, width), separable(width, width))
        self.det_cls = nn.Conv2d(width, NUM_CLASSES, 1)
        self.det_box = nn.Conv2d(width, 4, 1)
        nn.init.constant_(self.det_cls.bias, -4.6)  # prior 0.01: most points are background
        # Segmentation on the stride-4 grid with the raw pixels of both inputs folded in (pixel unshuffle), then
        # sub-pixel convolution (pixel shuffle) to full-resolution logits: sharp masks of thin defects for the
        # cost of stride-4 convolutions (full-resolution layers tripled CPU training time).
        self.detail = conv_bn(4 * DET_STRIDE**2, 32)
        self.seg_tower = nn.Sequential(separable(width + 32, width), separable(width, width))
        self.seg_out = nn.Conv2d(width, (NUM_CLASSES + 1) * DET_STRIDE**2, 1)
        # Image-level presence from the deepest level.
        self.cls_head = nn.Sequential(nn.Linear(2 * width, width), nn.SiLU(), nn.Linear(width, NUM_CLASSES))
        g = SIZE // DET_STRIDE
        ys, xs = torch.meshgrid(torch.arange(g), torch.arange(g), indexing="ij")
        points = torch.stack([xs, ys], -1).reshape(-1, 2).float() * DET_STRIDE + DET_STRIDE / 2
        self.register_buffer("points", points, persistent=False)

    def raw(self, visible: torch.Tensor, xray: torch.Tensor) -> dict:
        """Training outputs: class logits and ltrb distances per point, seg logits, presence logits."""
        v = self.visible(visible)
        x = self.xray(xray)
        fused = [f(a, b) for f, a, b in zip(self.fuse, v, x)]
        l4, l8, l16 = (lat(f) for lat, f in zip(self.lateral, fused))
        p16 = self.p16(l16)
        p8 = self.p8(l8 + F.interpolate(p16, scale_factor=2.0, mode="nearest"))
        p4 = self.p4(l4 + F.interpolate(p8, scale_factor=2.0, mode="nearest"))
        t = self.det_tower(p4)
        cls_logits = self.det_cls(t).flatten(2).transpose(1, 2)  # (N, A, C)
        ltrb = torch.exp(self.det_box(t).clamp(max=6.0)).flatten(2).transpose(1, 2) * DET_STRIDE
        d4 = self.detail(F.pixel_unshuffle(torch.cat([visible, xray], 1), DET_STRIDE))
        seg = F.pixel_shuffle(self.seg_out(self.seg_tower(torch.cat([p4, d4], 1))), DET_STRIDE)
        pooled = torch.cat([p16.mean((2, 3)), p16.amax((2, 3))], 1)
        return {"cls_logits": cls_logits, "ltrb": ltrb, "seg": seg, "presence": self.cls_head(pooled)}

    def boxes(self, ltrb: torch.Tensor) -> torch.Tensor:
        """ltrb distances -> (x0, y0, x1, y1) in input pixels."""
        p = self.points.unsqueeze(0)
        return torch.cat([p - ltrb[..., :2], p + ltrb[..., 2:]], -1)

    def forward(self, visible: torch.Tensor, xray: torch.Tensor):
        r = self.raw(visible, xray)
        b = self.boxes(r["ltrb"])
        cxcywh = torch.cat([(b[..., :2] + b[..., 2:]) / 2, b[..., 2:] - b[..., :2]], -1)
        det = torch.cat([cxcywh, torch.sigmoid(r["cls_logits"])], -1)
        return det, r["seg"], torch.sigmoid(r["presence"])


def variant(name: str) -> dict:
    """The ablation rows of the paper's table."""
    return {
        "base": {"fusion": "additive", "cbam": False, "dynamic": False},
        "attention": {"fusion": "attention", "cbam": False, "dynamic": False},
        "full": {"fusion": "attention", "cbam": True, "dynamic": True},
    }[name]


def load_checkpoint(path) -> tuple[ElectrodeDetector, dict]:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    cfg = {k: v for k, v in ckpt["config"].items() if k != "size"}
    model = ElectrodeDetector(**cfg)
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model, ckpt


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    import time

    for name in ("base", "attention", "full"):
        m = ElectrodeDetector(**variant(name))
        vis, xr = torch.randn(2, 3, SIZE, SIZE), torch.randn(2, 1, SIZE, SIZE)
        det, seg, cls = m(vis, xr)
        print(name, count_parameters(m), det.shape, seg.shape, cls.shape, f"{4 * count_parameters(m) / 1e6:.2f} MB")
    torch.set_num_threads(2)
    m.train()
    opt = torch.optim.AdamW(m.parameters())
    vis, xr = torch.randn(16, 3, SIZE, SIZE), torch.randn(16, 1, SIZE, SIZE)
    for i in range(3):
        t = time.time()
        r = m.raw(vis, xr)
        loss = sum(v.float().mean() for v in r.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        print(f"train step batch 16: {time.time() - t:.2f} s", math.nan if i == 0 else "")
