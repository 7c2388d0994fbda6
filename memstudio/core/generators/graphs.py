"""Replayed CUDA graphs for the studio's one-image renders.

At batch 1 a 1024-px StyleGAN2 on a GPU is bound by kernel launches, not arithmetic: eager PyTorch rendered
47–102 frames/s on an H100 (it depends on the host CPU), this replay of the same synthesis 159–160/s in
every run (``benchmarks/bench_gpu.py``). A slider drag renders one image per change, so it takes the replay.

A capture reads its weights, buffers and input at fixed addresses, so one is kept per shape, dtype, noise
mode, precision and *address of every parameter and buffer*: replacing a noise buffer (an inverted face
renders with its own noise maps) or moving the model simply makes a new capture, never a stale image.
Gradients, random noise and CPU tensors keep to eager PyTorch.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import torch
from torch import nn

#: Captures kept per network; each holds its activations' memory (about 0.5 GB for 1024 px, fp16 blocks).
MAX_CAPTURES = 4


@dataclass
class _Capture:
    graph: torch.cuda.CUDAGraph
    ws: torch.Tensor
    out: torch.Tensor


class _Captures:
    def __init__(self) -> None:
        self.by_key: OrderedDict[Hashable, _Capture] = OrderedDict()
        self.refused: str | None = None


_captures: weakref.WeakKeyDictionary[nn.Module, _Captures] = weakref.WeakKeyDictionary()


def replayable(ws: torch.Tensor, noise_mode: str) -> bool:
    """Whether a synthesis of ``ws`` may be replayed: one image on a GPU, no gradients, no fresh noise."""
    return ws.is_cuda and ws.shape[0] == 1 and noise_mode != "random" and not torch.is_grad_enabled()


def refusal(network: nn.Module) -> str | None:
    """Why ``network`` could not be captured (then it renders eagerly), or None."""
    entry = _captures.get(network)
    return entry.refused if entry else None


def replay(
    network: nn.Module, synthesis: Callable[[torch.Tensor], torch.Tensor], ws: torch.Tensor, key: Hashable
) -> torch.Tensor:
    """``synthesis(ws)`` through a captured graph of ``network`` (captured on first use of this key)."""
    entry = _captures.setdefault(network, _Captures())
    if entry.refused:
        return synthesis(ws)
    tensors = [*network.parameters(), *network.buffers()]
    full_key = (key, tuple(ws.shape), ws.dtype, ws.device, tuple(t.data_ptr() for t in tensors))
    capture = entry.by_key.get(full_key)
    if capture is None:
        try:
            capture = _capture(synthesis, ws)
        except RuntimeError as exc:  # e.g. a host copy inside the network: not capturable, render eagerly
            entry.refused = str(exc).splitlines()[0]
            return synthesis(ws)
        entry.by_key[full_key] = capture
        while len(entry.by_key) > MAX_CAPTURES:
            entry.by_key.popitem(last=False)
    entry.by_key.move_to_end(full_key)
    capture.ws.copy_(ws)
    capture.graph.replay()
    return capture.out.clone()


def _capture(synthesis: Callable[[torch.Tensor], torch.Tensor], ws: torch.Tensor) -> _Capture:
    # Ordinary tensors (not inference tensors), so later calls under no_grad may still copy into them.
    with torch.inference_mode(False), torch.no_grad():
        static_ws = ws.detach().clone()
        side = torch.cuda.Stream(device=ws.device)
        side.wait_stream(torch.cuda.current_stream(ws.device))
        with torch.cuda.stream(side):  # warm-up off the main stream, as CUDA graph capture requires
            for _ in range(2):
                synthesis(static_ws)
        torch.cuda.current_stream(ws.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = synthesis(static_ws)
    return _Capture(graph, static_ws, out)
