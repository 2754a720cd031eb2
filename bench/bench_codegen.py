"""Generated PyTorch code vs hand-written modules, and `netc compile` wall time.

Runs the generated and a hand-written model of the same architecture side by side in one process, interleaved
(gen, ref, gen, ref, ...) so that machine noise hits both alike, and prints median times and their ratio
(generated / hand-written; the target is <= 1.02). Both models hold the same weights.

    python bench/bench_codegen.py [--reps 15] [--threads N]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import netc

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


# -- hand-written models (what a person would write for the same .net files) ------------------------------
class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.dropout1 = nn.Dropout(0.2)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.fc2(self.dropout1(F.relu(self.fc1(x)))), dim=-1)


class LeNet5(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.s2 = nn.AvgPool2d(2)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.s4 = nn.AvgPool2d(2)
        self.f5 = nn.Linear(400, 120)
        self.f6 = nn.Linear(120, 84)
        self.output_layer = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.s2(torch.tanh(self.c1(x)))
        x = self.s4(torch.tanh(self.c3(x)))
        x = torch.flatten(x, 1)
        return self.output_layer(torch.tanh(self.f6(torch.tanh(self.f5(x)))))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# -- sequence models: nanoGPT as its author writes it (fused causal attention), and torch's own nn.Transformer --
class GPTAttention(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.resid_dropout = nn.Dropout(0.0)
        self.heads, self.d = heads, d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.size()
        q, k, v = self.c_attn(x).split(self.d, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c)))


class GPTBlock(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = GPTAttention(d, heads)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.ModuleDict(dict(c_fc=nn.Linear(d, 4 * d), c_proj=nn.Linear(4 * d, d)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, vocab: int, ctx: int, d: int, layers: int, heads: int) -> None:
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab, d), wpe=nn.Embedding(ctx, d), drop=nn.Dropout(0.0),
            h=nn.ModuleList([GPTBlock(d, heads) for _ in range(layers)]), ln_f=nn.LayerNorm(d)))
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.transformer.wte.weight = self.lm_head.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(idx.size(1), device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


class Transformer(nn.Transformer):
    """nn.Transformer called the way samples/transformer.net is: source padding and a causal decoder."""

    def forward(self, src: torch.Tensor, tgt: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        causal = nn.Transformer.generate_square_subsequent_mask(tgt.size(1), dtype=src.dtype)
        return super().forward(src, tgt, tgt_mask=causal, src_key_padding_mask=pad, memory_key_padding_mask=pad,
                               tgt_is_causal=True)


# GPT-2's architecture at nanoGPT's small-model size, nn.Transformer at half width: CPU-friendly runs.
GPT_SIZES = {"vocab": 50257, "ctx": 1024, "d": 384, "layers": 6, "heads": 6}
TRANSFORMER_SIZES = {"d_model": 256, "nhead": 8, "num_encoder_layers": 3, "num_decoder_layers": 3,
                     "dim_feedforward": 1024, "dropout": 0}


class TemporalBlock(nn.Module):
    """locuslab/TCN's TemporalBlock as a person writes it (without weight_norm, and without the `net` Sequential
    that registers conv1 and conv2 twice)."""

    def __init__(self, cin: int, cout: int, kernel: int, dilation: int, p: float) -> None:
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv1 = nn.Conv1d(cin, cout, kernel, padding=self.pad, dilation=dilation)
        self.dropout1 = nn.Dropout(p)
        self.conv2 = nn.Conv1d(cout, cout, kernel, padding=self.pad, dilation=dilation)
        self.dropout2 = nn.Dropout(p)
        self.downsample = nn.Conv1d(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[2]
        h = self.dropout1(F.relu(self.conv1(x)[:, :, :t]))
        h = self.dropout2(F.relu(self.conv2(h)[:, :, :t]))
        res = x if self.downsample is None else self.downsample(x)
        return F.relu(h + res)


class TCN(nn.Module):
    def __init__(self, inputs: int = 1, channels: tuple[int, ...] = (25,) * 8, kernel: int = 7, p: float = 0.05,
                 classes: int = 10) -> None:
        super().__init__()
        widths = (inputs, *channels)
        self.network = nn.Sequential(*[TemporalBlock(widths[i], widths[i + 1], kernel, 2 ** i, p)
                                       for i in range(len(channels))])
        self.linear = nn.Linear(channels[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.network(x)[:, :, -1])


def _padded(b: int, s: int) -> torch.Tensor:
    pad = torch.zeros(b, s, dtype=torch.bool)
    pad[1::2, s * 3 // 4:] = True  # every other sequence a quarter shorter
    return pad


SEQ_CASES: list[tuple[str, str, Callable[[], nn.Module], dict[str, int], Callable[[], tuple[torch.Tensor, ...]]]] = [
    ("GPT-2", "gpt2.net", lambda: GPT(*GPT_SIZES.values()), GPT_SIZES,
     lambda: (torch.randint(0, 50257, (2, 64)),)),
    ("Transformer", "transformer.net",
     lambda: Transformer(256, 8, 3, 3, 1024, dropout=0.0, batch_first=True), TRANSFORMER_SIZES,
     lambda: (torch.randn(4, 48, 256), torch.randn(4, 40, 256), _padded(4, 48))),
]

CASES: list[tuple[str, str, Callable[[], nn.Module], tuple[int, ...]]] = [
    ("MLP", "mnist_mlp.net", MLP, (256, 784)),
    ("LeNet-5", "lenet5.net", LeNet5, (64, 1, 32, 32)),
    ("ResNet-18", "resnet18.net", ResNet18, (8, 3, 112, 112)),
    ("TCN", "tcn.net", TCN, (16, 1, 784)),  # the sequential-MNIST model: 784 steps of one pixel
]


def _time(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_model(label: str, sample: str, ref_cls: Callable[[], nn.Module], shape: tuple[int, ...],
                reps: int, overrides: dict[str, int] | None = None,
                make_inputs: Callable[[], tuple[torch.Tensor, ...]] | None = None) -> None:
    torch.manual_seed(0)
    gen = netc.build(SAMPLES / sample, overrides=overrides)()
    ref = ref_cls()
    ref.load_state_dict(gen.state_dict(), strict=True)
    xs = make_inputs() if make_inputs is not None else (torch.randn(shape),)

    def fwd(m: nn.Module) -> Callable[[], object]:
        def run() -> object:
            with torch.no_grad():
                return m(*xs)
        return run

    def fwd_bwd(m: nn.Module) -> Callable[[], object]:
        def run() -> object:
            m.zero_grad(set_to_none=True)
            y = m(*xs)
            y.sum().backward()
            return y
        return run

    for mode, make, train in (("forward", fwd, False), ("forward+backward", fwd_bwd, True)):
        for m in (gen, ref):
            m.train(train)
        runs = {"generated": make(gen), "hand-written": make(ref)}
        for fn in runs.values():  # warm-up
            fn()
            fn()
        times: dict[str, list[float]] = {k: [] for k in runs}
        for i in range(reps):
            order = list(runs) if i % 2 == 0 else list(reversed(list(runs)))
            for k in order:
                times[k].append(_time(runs[k]))
        g, h = statistics.median(times["generated"]), statistics.median(times["hand-written"])
        print(f"{label:<10} {mode:<17} generated {g * 1e3:9.2f} ms   hand-written {h * 1e3:9.2f} ms   "
              f"ratio {g / h:.3f}")


def bench_compile(reps: int) -> None:
    print("\n`netc compile --target torch` wall time (process start to exit, median of", reps, "runs)")
    for sample in sorted(SAMPLES.glob("*.net")):
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "netc.cli", "compile", str(sample), "--target", "torch"],
                                  capture_output=True, cwd=ROOT)
            times.append(time.perf_counter() - t)
            if proc.returncode != 0:
                print(f"  {sample.name}: failed: {proc.stderr.decode()[:200]}")
                break
        else:
            print(f"  {sample.name:<22} {statistics.median(times) * 1e3:7.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    ap.add_argument("--compile-reps", type=int, default=3)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.reps} interleaved runs each "
          "(medians; ratio = generated / hand-written)")
    for case in CASES:
        bench_model(*case, reps=args.reps)
    for label, sample, ref_cls, sizes, make in SEQ_CASES:
        shown = ", ".join(f"{k}={v}" for k, v in sizes.items())
        print(f"{label}: {sample} --set {shown}; inputs {[tuple(t.shape) for t in make()]}")
        bench_model(label, sample, ref_cls, (), args.reps, overrides=sizes, make_inputs=make)
        if sample == "transformer.net":
            # In eval mode nn.Transformer takes torch's fused "fast path" (nested tensors skip the padding); the
            # generated layers call nn.MultiheadAttention and do not. The same comparison without it:
            torch.backends.mha.set_fastpath_enabled(False)
            bench_model(f"{label}, no fast path", sample, ref_cls, (), args.reps, overrides=sizes, make_inputs=make)
            torch.backends.mha.set_fastpath_enabled(True)
    bench_compile(args.compile_reps)


if __name__ == "__main__":
    main()
