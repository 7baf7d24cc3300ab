"""RWKV-7 "x070" in PyTorch, computing exactly what engine/src/graph/rwkv7-graph.ts computes.

Parameter names, shapes and layouts are the official BlinkDL ones (see the RWKV-7 fixtures README, ../shared/fixtures/rwkv7/README.md beside the repository):
Linear weights are [out, in] applied as x @ W.T, LoRA matrices [in, out] applied as x @ W, per-channel vectors
[1, 1, C]. So export is a plain state_dict in bf16.

Training runs whole sequences [B, T] at once. The wkv recurrence
    S_t = S_{t-1} (diag(w_t) + a_t b_t^T) + v_t k_t^T,   y_t = S_t r_t      (a = -kk, b = kk * rate)
is solved chunk by chunk in closed form (the same algebra as engine/src/graph/wkv-chunked.ts): everything
inside a chunk is batched matrix work for all chunks at once, and only the N x N state is carried across
chunks, as S_{c+1} = S_c A_c + B_c (one small batched matmul per chunk). The log-decay, the rescaling and the
whole recurrence run in fp32 with autocast off: decays near 1 are too coarse in bf16.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

DECAY_SCALE = -0.606531  # log-decay = DECAY_SCALE * sigmoid(w0 + lora): the reference's soft clamp
GROUP_NORM_EPS = 64e-5
LAYER_NORM_EPS = 1e-5


def lora_dim(x: float) -> int:
    return max(32, int(round(x / 32)) * 32)


class Config:
    def __init__(self, n_layer: int, n_embd: int, vocab_size: int = 320, head_size: int = 64):
        assert n_embd % head_size == 0
        self.n_layer = n_layer
        self.n_embd = n_embd
        self.vocab_size = vocab_size
        self.head_size = head_size
        self.n_head = n_embd // head_size
        self.dim_ffn = 4 * n_embd
        c = n_embd
        # the LoRA ranks of BlinkDL's train_temp (also engine/src/checkpoint/random-checkpoint.ts)
        self.d_decay = lora_dim(2.5 * math.sqrt(c))
        self.d_a = lora_dim(2.5 * math.sqrt(c))
        self.d_v = lora_dim(1.7 * math.sqrt(c))
        self.d_gate = lora_dim(5 * math.sqrt(c))

    def as_dict(self):
        return dict(n_layer=self.n_layer, n_embd=self.n_embd, vocab_size=self.vocab_size, head_size=self.head_size)


def _tri(T: int, inclusive: bool, device) -> torch.Tensor:
    i = torch.arange(T, device=device)
    return ((i[:, None] <= i[None, :]) if inclusive else (i[:, None] < i[None, :])).float()


def wkv_chunked(r, log_w, k, v, a, b, chunk: int = 32, s0=None):
    """Inputs [B, T, H, N] fp32 (T a multiple of chunk). Returns y [B, T, H, N] and the final state [B, H, N, N]
    (row = value channel, column = key channel, the reference layout)."""
    B, T, H, N = r.shape
    L = chunk
    nc = T // L
    assert nc * L == T, f"sequence length {T} must be a multiple of the chunk {L}"

    # [B, H, nc, N, L]: channels x positions within each chunk
    def cols(x):
        return x.view(B, nc, L, H, N).permute(0, 3, 1, 4, 2)

    r, log_w, k, v, a, b = map(cols, (r, log_w, k, v, a, b))
    cum = torch.cumsum(log_w, dim=-1)  # log Lambda_t (inclusive)
    cum_prev = cum - log_w
    cum_last = cum[..., -1:]
    a_t = a * torch.exp(cum_prev)
    r_t = r * torch.exp(cum)
    inv_lambda = torch.exp(-cum)
    b_hat = b * inv_lambda
    k_hat = k * inv_lambda
    to_end = torch.exp(cum_last - cum)
    b_tail = b * to_end
    k_tail = k * to_end

    strict = _tri(L, False, r.device)
    upper = _tri(L, True, r.device)
    bT = b_hat.transpose(-1, -2)
    kT = k_hat.transpose(-1, -2)
    lab = (bT @ a_t) * strict
    lak = (kT @ a_t) * strict
    ubr = (bT @ r_t) * upper
    ukr = (kT @ r_t) * upper
    eye = torch.eye(L, device=r.device)
    # X (I - lab) = M  =>  X = M (I - lab)^-1 ; (I - lab) is unit upper triangular
    inv = torch.linalg.solve_triangular(eye - lab, eye.expand_as(lab), upper=True, unitriangular=True)

    P = a_t @ inv  # SA = S0 P + Q
    Q = (v @ lak) @ inv
    R = r_t + P @ ubr  # y = S0 R + Y_intra
    y_intra = Q @ ubr + v @ ukr
    A = torch.diag_embed(torch.exp(cum_last.squeeze(-1))) + P @ b_tail.transpose(-1, -2)  # S' = S0 A + Bc
    Bc = Q @ b_tail.transpose(-1, -2) + v @ k_tail.transpose(-1, -2)

    S = torch.zeros(B, H, N, N, device=r.device, dtype=r.dtype) if s0 is None else s0
    starts = []
    for c in range(nc):
        starts.append(S)
        S = S @ A[:, :, c] + Bc[:, :, c]
    S_all = torch.stack(starts, dim=2)  # [B, H, nc, N, N]
    y = S_all @ R + y_intra  # [B, H, nc, N, L]
    y = y.permute(0, 2, 4, 1, 3).reshape(B, T, H, N)
    return y, S


def wkv_sequential(r, log_w, k, v, a, b, s0=None):
    """The recurrence one step at a time, as the engine's step graph runs it (reference for tests)."""
    B, T, H, N = r.shape
    S = torch.zeros(B, H, N, N, device=r.device, dtype=r.dtype) if s0 is None else s0
    w = torch.exp(log_w)
    ys = []
    for t in range(T):
        sa = S @ a[:, t, :, :, None]  # [B,H,N,1]
        S = S * w[:, t, :, None, :] + sa @ b[:, t, :, None, :] + v[:, t, :, :, None] @ k[:, t, :, None, :]
        ys.append((S @ r[:, t, :, :, None]).squeeze(-1))
    return torch.stack(ys, dim=1), S


class TimeMix(nn.Module):
    def __init__(self, cfg: Config, layer: int):
        super().__init__()
        C, H, N = cfg.n_embd, cfg.n_head, cfg.head_size
        self.cfg, self.layer = cfg, layer
        vec = lambda: nn.Parameter(torch.zeros(1, 1, C))  # noqa: E731
        self.x_r, self.x_w, self.x_k, self.x_v, self.x_a, self.x_g = (vec() for _ in range(6))
        self.w0 = vec()
        self.r_k = nn.Parameter(torch.zeros(H, N))
        self.w1 = nn.Parameter(torch.zeros(C, cfg.d_decay))
        self.w2 = nn.Parameter(torch.zeros(cfg.d_decay, C))
        self.a1 = nn.Parameter(torch.zeros(C, cfg.d_a))
        self.a2 = nn.Parameter(torch.zeros(cfg.d_a, C))
        self.a0 = vec()
        self.g1 = nn.Parameter(torch.zeros(C, cfg.d_gate))
        self.g2 = nn.Parameter(torch.zeros(cfg.d_gate, C))
        # layer 0 has them too (as BlinkDL's trainer writes them) but never reads them
        self.v2 = nn.Parameter(torch.zeros(cfg.d_v, C))
        self.v1 = nn.Parameter(torch.zeros(C, cfg.d_v))
        self.v0 = vec()
        self.k_k = vec()
        self.k_a = vec()
        self.receptance = nn.Linear(C, C, bias=False)
        self.key = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(C, C, bias=False)
        self.output = nn.Linear(C, C, bias=False)
        self.ln_x = nn.GroupNorm(H, C, eps=GROUP_NORM_EPS)

    def forward(self, xln, v_first, chunk: int, sequential: bool = False):
        cfg = self.cfg
        B, T, C = xln.shape
        H, N = cfg.n_head, cfg.head_size
        prev = F.pad(xln, (0, 0, 1, -1))  # token shift; the state before the first token is zero
        xx = prev - xln
        xr, xw, xk, xv, xa, xg = (xln + xx * m for m in (self.x_r, self.x_w, self.x_k, self.x_v, self.x_a, self.x_g))
        r = self.receptance(xr)
        k = self.key(xk)
        v = self.value(xv)
        w_lora = torch.tanh(xw @ self.w1) @ self.w2
        a = torch.sigmoid(self.a0 + (xa @ self.a1) @ self.a2)
        g = torch.sigmoid(xg @ self.g1) @ self.g2
        kk = F.normalize((k * self.k_k).view(B, T, H, N).float(), dim=-1, p=2.0, eps=1e-12)
        k = k * (1 + (a - 1) * self.k_a)
        if self.layer == 0:
            v_first = v
        else:
            v = v + (v_first - v) * torch.sigmoid(self.v0 + (xv @ self.v1) @ self.v2)
        with torch.autocast(device_type=xln.device.type, enabled=False):
            log_w = DECAY_SCALE * torch.sigmoid((self.w0 + w_lora).float())
            heads = lambda t: t.float().view(B, T, H, N)  # noqa: E731
            rf, kf, vf, af = heads(r), heads(k), heads(v), heads(a)
            args = (rf, heads(log_w), kf, vf, -kk, kk * af)
            y, _ = wkv_sequential(*args) if sequential else wkv_chunked(*args, chunk=chunk)
            y = F.group_norm(y.reshape(B * T, C), H, self.ln_x.weight.float(), self.ln_x.bias.float(), GROUP_NORM_EPS)
            bonus = ((rf * kf * self.r_k.float()).sum(-1, keepdim=True) * vf).reshape(B * T, C)
            y = (y + bonus).view(B, T, C)
        return self.output(y.to(g.dtype) * g), v_first


class ChannelMix(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.x_k = nn.Parameter(torch.zeros(1, 1, cfg.n_embd))
        self.key = nn.Linear(cfg.n_embd, cfg.dim_ffn, bias=False)
        self.value = nn.Linear(cfg.dim_ffn, cfg.n_embd, bias=False)

    def forward(self, xln):
        prev = F.pad(xln, (0, 0, 1, -1))
        kx = xln + (prev - xln) * self.x_k
        return self.value(torch.relu(self.key(kx)) ** 2)


class Block(nn.Module):
    def __init__(self, cfg: Config, layer: int):
        super().__init__()
        C = cfg.n_embd
        if layer == 0:
            self.ln0 = nn.LayerNorm(C, eps=LAYER_NORM_EPS)
        self.ln1 = nn.LayerNorm(C, eps=LAYER_NORM_EPS)
        self.ln2 = nn.LayerNorm(C, eps=LAYER_NORM_EPS)
        self.att = TimeMix(cfg, layer)
        self.ffn = ChannelMix(cfg)


class RWKV7(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layer))
        self.ln_out = nn.LayerNorm(cfg.n_embd, eps=LAYER_NORM_EPS)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)

    def forward(self, idx, chunk: int = 32, sequential: bool = False):
        x = self.blocks[0].ln0(self.emb(idx))
        v_first = None
        for blk in self.blocks:
            out, v_first = blk.att(blk.ln1(x), v_first, chunk, sequential)
            x = x + out
            x = x + blk.ffn(blk.ln2(x))
        return self.head(self.ln_out(x))

    @torch.no_grad()
    def init_weights(self, seed: int):
        """BlinkDL's x070 initialisation (train_temp/src/model.py), with a seeded generator."""
        gen = torch.Generator().manual_seed(seed)
        cfg = self.cfg
        C, L = cfg.n_embd, cfg.n_layer

        def uniform_(t, bound):
            t.copy_(torch.rand(t.shape, generator=gen) * 2 * bound - bound)

        def ortho_(t, gain):
            rows, cols = t.shape
            m = torch.randn(max(rows, cols), min(rows, cols), generator=gen)
            q, _ = torch.linalg.qr(m)
            t.copy_((q if rows >= cols else q.T)[:rows, :cols] * gain)

        uniform_(self.emb.weight, 1e-4)
        ortho_(self.head.weight, 0.5 * math.sqrt(cfg.vocab_size / C) if cfg.vocab_size > C else 0.5)
        ddd = torch.arange(C, dtype=torch.float32) / C
        for i, blk in enumerate(self.blocks):
            r01 = i / max(1, L - 1)
            r10 = 1.0 - i / L
            at = blk.att
            for p, e in ((at.x_r, 0.2), (at.x_w, 0.9), (at.x_k, 0.7), (at.x_v, 0.7), (at.x_a, 0.9), (at.x_g, 0.2)):
                p.copy_((1.0 - ddd.pow(e * r10)).view(1, 1, C))
            n = torch.arange(C, dtype=torch.float32)
            decay_speed = -7 + 5 * (n / (C - 1)) ** (0.85 + 1.0 * r01**0.5)
            at.w0.copy_((decay_speed + 0.5).view(1, 1, C))
            for z in (at.w1, at.a1, at.v1, at.g1, at.a0, at.r_k):
                z.zero_()
            for z in (at.w2, at.a2, at.v2, at.g2):
                ortho_(z, 0.1)
            at.v0.fill_(1.0)
            at.k_k.fill_(0.85)
            at.k_a.fill_(1.0)
            uniform_(at.receptance.weight, 0.5 / math.sqrt(C))
            uniform_(at.key.weight, 0.05 / math.sqrt(C))
            uniform_(at.value.weight, 0.5 / math.sqrt(C))
            at.output.weight.zero_()
            at.ln_x.weight.fill_(((1 + i) / L) ** 0.7)
            at.ln_x.bias.zero_()
            blk.ffn.x_k.copy_((1.0 - ddd.pow(r10**4)).view(1, 1, C))
            uniform_(blk.ffn.key.weight, 0.5 / math.sqrt(C))
            blk.ffn.value.weight.zero_()

    def official_state_dict(self):
        """Official names in the order rwkv_v7_numpy.py expects (engine/src/checkpoint/official-layout.ts)."""
        out = {"emb.weight": self.emb.weight}
        for i, blk in enumerate(self.blocks):
            p = f"blocks.{i}."
            if i == 0:
                out[p + "ln0.weight"], out[p + "ln0.bias"] = blk.ln0.weight, blk.ln0.bias
            for n in ("ln1", "ln2"):
                m = getattr(blk, n)
                out[p + n + ".weight"], out[p + n + ".bias"] = m.weight, m.bias
            at = blk.att
            for n in ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g", "w0", "r_k", "w1", "w2", "a1", "a2", "a0", "g1", "g2",
                      "v2", "v1", "v0", "k_k", "k_a"):
                out[p + "att." + n] = getattr(at, n)
            for n in ("receptance", "key", "value", "output"):
                out[p + f"att.{n}.weight"] = getattr(at, n).weight
            out[p + "att.ln_x.weight"], out[p + "att.ln_x.bias"] = at.ln_x.weight, at.ln_x.bias
            out[p + "ffn.x_k"] = blk.ffn.x_k
            out[p + "ffn.key.weight"] = blk.ffn.key.weight
            out[p + "ffn.value.weight"] = blk.ffn.value.weight
        out["ln_out.weight"], out["ln_out.bias"] = self.ln_out.weight, self.ln_out.bias
        out["head.weight"] = self.head.weight
        return out

    def load_official(self, tensors):
        own = self.official_state_dict()
        missing = set(own) - set(tensors)
        if missing:
            raise KeyError(f"checkpoint lacks {sorted(missing)[:5]}")
        with torch.no_grad():
            for name, p in own.items():
                p.copy_(tensors[name].to(p.dtype).view(p.shape))


def config_from_tensors(tensors) -> Config:
    V, C = tensors["emb.weight"].shape
    H, N = tensors["blocks.0.att.r_k"].shape
    L = 1 + max(int(k.split(".")[1]) for k in tensors if k.startswith("blocks."))
    return Config(L, C, V, N)
