"""Trains an RWKV-7 on the packed byte files written by `npm run data -w @gooseherd/training`, in resumable
chunks: each run trains until --budget-s seconds have passed (or --steps is reached), then saves the model,
the optimizer state, the step and the RNG state to --run-dir, from where the next run goes on. Every run is
seeded: the batch of step s depends only on (--seed, s), so a resumed run draws the same batches as an
uninterrupted one.

    python3 train.py --data DIR --run-dir RUN --layers 8 --embd 384 --steps 6000 --budget-s 540

Data files (DIR/train.bin[.gz], DIR/val.bin[.gz]): UTF-8 bytes, documents separated by a 0 byte. A byte b
is token b + 1 and the separator is token 0 (end of text): the engine's byte tokenizer (ByteTokenizer).
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rwkv7 import RWKV7, Config  # noqa: E402
from export import export_model  # noqa: E402


def load_bytes(path_base: str) -> np.ndarray:
    for path in (path_base + ".gz", path_base):
        if os.path.exists(path):
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as f:
                return np.frombuffer(f.read(), dtype=np.uint8)
    raise FileNotFoundError(path_base)


class Packed:
    """Byte stream → token windows that start at a document start (so a transcript's system turn is seen)."""

    def __init__(self, data: np.ndarray):
        tokens = data.astype(np.int64) + 1
        tokens[data == 0] = 0
        self.tokens = torch.from_numpy(tokens)
        starts = np.flatnonzero(data == 0) + 1
        self.starts = np.concatenate([[0], starts[starts < len(data) - 1]])

    def batch(self, gen: torch.Generator, batch: int, ctx: int) -> torch.Tensor:
        idx = torch.randint(len(self.starts), (batch,), generator=gen)
        out = torch.zeros(batch, ctx + 1, dtype=torch.long)
        n = len(self.tokens)
        for i, j in enumerate(idx.tolist()):
            s = int(self.starts[j])
            piece = self.tokens[s:min(n, s + ctx + 1)]
            out[i, : len(piece)] = piece
        return out


def lr_at(step: int, args) -> float:
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    if args.init_from and step - args.start_step < 50:  # fresh Adam moments: ramp back up over 50 steps
        return lr_cosine(step, args) * (step - args.start_step + 1) / 50
    return lr_cosine(step, args)


def lr_cosine(step: int, args) -> float:
    p = min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))
    return args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * p))


def param_groups(model, wd: float):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        # weight decay on the large matrices only (BlinkDL's rule), never on vectors, LoRAs or the embedding
        (decay if p.dim() == 2 and name.endswith(".weight") and "emb" not in name else no_decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


@torch.no_grad()
def evaluate(model, data: Packed, args, device) -> float:
    model.eval()
    gen = torch.Generator().manual_seed(12345)  # the same validation batches every time
    total = 0.0
    for _ in range(args.val_batches):
        b = data.batch(gen, args.batch, args.ctx).to(device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(b[:, :-1], chunk=args.chunk)
        total += F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), b[:, 1:].reshape(-1)).item()
    model.train()
    return total / args.val_batches


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--embd", type=int, default=384)
    ap.add_argument("--vocab", type=int, default=320)
    ap.add_argument("--ctx", type=int, default=1024)
    ap.add_argument("--chunk", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--steps", type=int, default=6000, help="schedule length (the cosine ends here)")
    ap.add_argument("--budget-s", type=float, default=540, help="stop this run after this many seconds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--val-every", type=int, default=250)
    ap.add_argument("--val-batches", type=int, default=4)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--init-from", help="start from these exported weights (fresh optimizer) when no state.pt exists")
    ap.add_argument("--start-step", type=int, default=0, help="with --init-from: the schedule step to go on from")
    ap.add_argument("--export", help="write the official-layout .safetensors (bf16) here when the run ends")
    args = ap.parse_args(argv)

    t_start = time.time()
    torch.backends.cuda.matmul.allow_tf32 = False  # the wkv matmuls run in true fp32
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    os.makedirs(args.run_dir, exist_ok=True)
    state_path = os.path.join(args.run_dir, "state.pt")
    log_path = os.path.join(args.run_dir, "log.jsonl")

    train = Packed(load_bytes(os.path.join(args.data, "train.bin")))
    val = Packed(load_bytes(os.path.join(args.data, "val.bin")))
    cfg = Config(args.layers, args.embd, args.vocab)
    torch.manual_seed(args.seed)
    model = RWKV7(cfg)
    model.init_weights(args.seed)
    model.to(device)
    opt = torch.optim.AdamW(param_groups(model, args.wd), lr=args.lr, betas=(0.9, 0.99), eps=1e-8,
                            fused=device.type == "cuda")
    step = 0
    if os.path.exists(state_path):
        saved = torch.load(state_path, map_location=device, weights_only=False)
        if saved["config"] != cfg.as_dict():
            raise SystemExit(f"{state_path} holds a {saved['config']} model, not {cfg.as_dict()}")
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        step = saved["step"]
        print(f"resumed at step {step}", flush=True)
    elif args.init_from:
        # a cold machine lost state.pt: go on from the exported (bf16) weights with a fresh optimizer, re-warmed
        from safetensors.torch import load_file

        model.load_official({k: v.float() for k, v in load_file(args.init_from).items()})
        step = args.start_step
        print(f"initialised from {args.init_from} at step {step}", flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model L{cfg.n_layer} C{cfg.n_embd} V{cfg.vocab_size}: {n_params / 1e6:.2f}M params; "
          f"train {len(train.tokens) / 1e6:.1f}M tokens, val {len(val.tokens) / 1e6:.1f}M; device {device}",
          flush=True)

    log = open(log_path, "a")
    tokens_per_step = args.batch * args.ctx
    window_t, window_tokens = time.time(), 0
    while step < args.steps and time.time() - t_start < args.budget_s:
        gen = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
        b = train.batch(gen, args.batch, args.ctx).to(device, non_blocking=True)
        lr = lr_at(step, args)
        for g in opt.param_groups:
            g["lr"] = lr
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(b[:, :-1], chunk=args.chunk)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), b[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        step += 1
        window_tokens += tokens_per_step
        if step % args.log_every == 0 or step == 1:
            lv = loss.item()
            if not math.isfinite(lv):
                raise SystemExit(f"loss is {lv} at step {step}")
            now = time.time()
            rec = {"step": step, "tokens": step * tokens_per_step, "loss": round(lv, 4), "lr": lr,
                   "gnorm": round(float(gnorm), 3), "tok_s": round(window_tokens / (now - window_t))}
            if step % args.val_every == 0:
                rec["val_loss"] = round(evaluate(model, val, args, device), 4)
            window_t, window_tokens = now, 0
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(json.dumps(rec), flush=True)

    rec = {"step": step, "tokens": step * tokens_per_step, "val_loss": round(evaluate(model, val, args, device), 4),
           "end_of_run": True, "elapsed_s": round(time.time() - t_start, 1)}
    log.write(json.dumps(rec) + "\n")
    log.close()
    print(json.dumps(rec), flush=True)
    tmp = state_path + ".tmp"
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "config": cfg.as_dict(),
                "args": vars(args)}, tmp)
    os.replace(tmp, state_path)
    if args.export:
        export_model(model, args.export, {"step": str(step), "trainer": "gooseherd training/trainer"})
        print(f"exported {args.export}", flush=True)


if __name__ == "__main__":
    main()
