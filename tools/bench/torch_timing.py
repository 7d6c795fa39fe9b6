"""CUDA-event timing shared by the PyTorch baselines of the benchmarks under tools/bench/."""
import torch


def cuda_ms(fn, iters):
    """Mean ms per call of `fn` over `iters` calls after one warm-up, timed with CUDA events."""
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / iters
