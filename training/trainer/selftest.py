"""Self-checks of the trainer's math that need no GPU: the chunked wkv equals the step-by-step recurrence
(forward and gradients), and an exported model reloads to the same logits.

    python3 selftest.py [--export tiny.safetensors]
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rwkv7 import RWKV7, Config, wkv_chunked, wkv_sequential  # noqa: E402
from export import export_model, load_exported  # noqa: E402


def random_model(seed=3, layers=2, embd=64):
    model = RWKV7(Config(layers, embd, 320, 32 if embd < 64 else 64))
    model.init_weights(seed)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # move every parameter off its (often zero) init so every term matters
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.3 / max(1, p.shape[-1]) ** 0.5)
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--export")
    args = ap.parse_args()
    torch.manual_seed(0)
    B, T, H, N = 2, 64, 2, 16
    r, k, v = (torch.randn(B, T, H, N, dtype=torch.float64) for _ in range(3))
    log_w = -0.606531 * torch.sigmoid(torch.randn(B, T, H, N, dtype=torch.float64) * 3)
    kk = torch.nn.functional.normalize(torch.randn(B, T, H, N, dtype=torch.float64), dim=-1)
    rate = torch.sigmoid(torch.randn(B, T, H, N, dtype=torch.float64))
    inputs = [x.clone().requires_grad_() for x in (r, log_w, k, v, -kk, kk * rate)]
    y1, s1 = wkv_chunked(*inputs, chunk=16)
    (y1.square().sum() + s1.sum()).backward()
    g1 = [x.grad.clone() for x in inputs]
    inputs2 = [x.detach().clone().requires_grad_() for x in inputs]
    y2, s2 = wkv_sequential(*inputs2)
    (y2.square().sum() + s2.sum()).backward()
    err_y = (y1 - y2).abs().max().item()
    err_s = (s1 - s2).abs().max().item()
    err_g = max((a - b.grad).abs().max().item() / (b.grad.abs().max().item() + 1e-12) for a, b in zip(g1, inputs2))
    print(f"wkv chunked vs sequential (fp64): y {err_y:.2e}, state {err_s:.2e}, grads (relative) {err_g:.2e}")
    assert err_y < 1e-9 and err_s < 1e-9 and err_g < 1e-9

    model = random_model()
    idx = torch.randint(0, 320, (1, 64))
    with torch.no_grad():
        a = model(idx, chunk=32)
        b = model(idx, sequential=True)
    print(f"model chunked vs sequential (fp32): {(a - b).abs().max().item():.2e}")
    assert (a - b).abs().max().item() < 1e-4
    if args.export:
        export_model(model, args.export)
        again = load_exported(args.export, torch.device("cpu"))
        with torch.no_grad():
            c = again(idx, chunk=32)
        print(f"exported (bf16) vs fp32 model: {(a - c).abs().max().item():.2e} (bf16 rounding of the weights)")
    print("selftest ok")


if __name__ == "__main__":
    main()
