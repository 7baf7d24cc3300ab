"""Loss curve of a run's log.jsonl as a PNG: python3 plot_loss.py LOG.jsonl OUT.png"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(log_path: str, out_path: str):
    rows = [json.loads(line) for line in open(log_path) if line.strip()]
    train = [(r["tokens"] / 1e6, r["loss"]) for r in rows if "loss" in r]
    val = [(r["tokens"] / 1e6, r["val_loss"]) for r in rows if "val_loss" in r]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(*zip(*train), lw=0.8, alpha=0.8, label="train loss (batch of 32x1024 bytes)")
    ax.plot(*zip(*val), "o-", ms=3, label="validation loss (held-out phrasings)")
    ax.set_xlabel("tokens (millions of bytes)")
    ax.set_ylabel("cross-entropy (nats per byte)")
    ax.set_ylim(0, 2.5)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("gooseherd-tiny: RWKV-7 L8 C384 (16M params), 3,800 steps on one H100")
    fig.tight_layout()
    fig.savefig(out_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
