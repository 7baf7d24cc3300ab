"""Export to the official RWKV-7 layout as .safetensors (bf16), which engine/ loads, and golden logits for the
parity test (training/src/parity.spec.ts).

    python3 export.py golden --model tiny.safetensors --out golden.json   # logits of the exported weights
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rwkv7 import RWKV7, config_from_tensors  # noqa: E402

# A recorded sample in the tool dialect: bytes → tokens (byte + 1), no end-of-text token in front.
PARITY_TEXT = (
    'System: You are a goose.\n<tools>\n{"name":"get_weather","description":"Weather.","parameters":{}}\n'
    '</tools>\n\nUser: Oslo?\n\nAssistant: <tool_call>{"name":"get_weather","arguments":{"city":"Oslo"}}'
    "</tool_call>\n\nObservation: 4 C\n\nAssistant: It is 4 C in Oslo.\n\n"
)


def export_model(model: RWKV7, path: str, metadata=None):
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu", torch.bfloat16).contiguous() for k, v in model.official_state_dict().items()}
    meta = {"format": "pt"}
    meta.update(metadata or {})
    tmp = path + ".tmp"
    save_file(tensors, tmp, metadata=meta)
    os.replace(tmp, path)


def load_exported(path: str, device) -> RWKV7:
    from safetensors.torch import load_file

    tensors = load_file(path)
    model = RWKV7(config_from_tensors(tensors))
    model.load_official({k: v.float() for k, v in tensors.items()})  # bf16 → fp32, as the engine reads it
    return model.to(device).eval()


@torch.no_grad()
def golden(model_path: str, out_path: str, text: str = PARITY_TEXT):
    torch.backends.cuda.matmul.allow_tf32 = False
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = load_exported(model_path, device)
    tokens = [b + 1 for b in text.encode("utf-8")]
    chunk = 32
    pad = (-len(tokens)) % chunk  # trailing padding cannot change earlier positions (causal)
    idx = torch.tensor([tokens + [0] * pad], device=device)
    logits = model(idx, chunk=chunk)[0, : len(tokens)].double()
    seq = model(idx, sequential=True)[0, : len(tokens)].double()
    record = {
        "model": os.path.basename(model_path),
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "text": text,
        "tokens": tokens,
        "chunked_vs_sequential_max_abs": float((logits - seq).abs().max()),
        # row p = logits after tokens[0..p], float32 values written with 7 significant digits
        "logits": [[float(f"{x:.7g}") for x in row] for row in logits.float().tolist()],
    }
    with open(out_path, "w") as f:
        json.dump(record, f, separators=(",", ":"))
    return record


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("golden")
    g.add_argument("--model", required=True)
    g.add_argument("--out", required=True)
    e = sub.add_parser("from-run", help="export the model of a training run's state.pt")
    e.add_argument("--run-dir", required=True)
    e.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.cmd == "golden":
        rec = golden(args.model, args.out)
        print(f"golden: {len(rec['tokens'])} tokens, chunked vs sequential {rec['chunked_vs_sequential_max_abs']:.2e}")
    else:
        from rwkv7 import Config

        saved = torch.load(os.path.join(args.run_dir, "state.pt"), map_location="cpu", weights_only=False)
        c = saved["config"]
        model = RWKV7(Config(c["n_layer"], c["n_embd"], c["vocab_size"], c["head_size"]))
        model.load_state_dict(saved["model"])
        export_model(model, args.out, {"step": str(saved["step"])})
        print(f"exported step {saved['step']} to {args.out}")


if __name__ == "__main__":
    main()
