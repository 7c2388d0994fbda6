"""Is 004's coordinate descent fast enough at LaMem scale, and is it the right solver?

Scores 10,000 images × 100 responses (1M target repeats) three ways in one run and prints times as ratios to
the plain mean hit rate (one ``bincount``, the floor for any scorer):

- ``fit_delay_decay``: eq. 5–6 on per-image sums, iterated to 1e-10;
- ``scipy lsqr``: the same weighted least-squares problem as one sparse 1M × 10,001 system;
- the error between the two solutions, to show they agree.

Run: ``.venv/bin/python benchmarks/bench_memgame.py`` (well under a minute on 2 cores).
"""

from __future__ import annotations

import time

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.linalg import lsqr

from memstudio.core.experiments.scoring import fit_delay_decay

N_IMAGES, PER_IMAGE, ALPHA, T = 10_000, 100, -0.1, 80.0


def _best_of(fn, repeats: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    rng = np.random.default_rng(0)
    m_T = rng.uniform(0.3, 0.9, N_IMAGES)
    idx = np.repeat(np.arange(N_IMAGES), PER_IMAGE)
    t = rng.integers(35, 151, idx.size).astype(float)
    x = (rng.random(idx.size) < np.clip(m_T[idx] + ALPHA * np.log(t / T), 0, 1)).astype(float)

    t_mean, _ = _best_of(lambda: np.bincount(idx, x, N_IMAGES) / np.bincount(idx, minlength=N_IMAGES))
    t_cd, fit = _best_of(lambda: fit_delay_decay(idx, x, t, T, N_IMAGES))

    def solve_lsqr() -> np.ndarray:
        w = np.sqrt(1.0 / PER_IMAGE)
        rows = np.repeat(np.arange(idx.size), 2)
        cols = np.stack([idx, np.full(idx.size, N_IMAGES)], axis=1).ravel()
        vals = np.stack([np.full(idx.size, w), w * np.log(t / T)], axis=1).ravel()
        A = csr_matrix((vals, (rows, cols)), shape=(idx.size, N_IMAGES + 1))
        return lsqr(A, w * x, atol=1e-12, btol=1e-12)[0]

    t_lsqr, sol = _best_of(solve_lsqr, repeats=1)
    print(f"{idx.size:,} target repeats over {N_IMAGES:,} images")
    print(f"  mean hit rate (baseline)     {t_mean * 1e3:8.1f} ms   1.0×")
    print(
        f"  coordinate descent eq. 5–6   {t_cd * 1e3:8.1f} ms   {t_cd / t_mean:5.1f}×   "
        f"({fit.iterations} iterations, α = {fit.alpha:+.4f}, true {ALPHA})"
    )
    print(f"  scipy lsqr, same problem     {t_lsqr * 1e3:8.1f} ms   {t_lsqr / t_mean:5.1f}×")
    print(
        f"  max |m_T(cd) − m_T(lsqr)| = {np.abs(fit.m_T - sol[:N_IMAGES]).max():.2e}, "
        f"|α(cd) − α(lsqr)| = {abs(fit.alpha - sol[-1]):.2e}"
    )


if __name__ == "__main__":
    main()
