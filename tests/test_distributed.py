"""torch.distributed: real 2-process runs (torchrun's launcher, gloo on the CPU) equal one-process runs.

Each test launches ``python -m torch.distributed.run --standalone --nproc-per-node 2 -m memstudio …`` with
one thread per rank, and compares with the same command run in this process (no torchrun, so the one-process
path of :mod:`memstudio.core.distributed`). Models are tiny: a 16-px random StyleGAN2 saved as a rosinality
checkpoint, and the image factors.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_rosinality import tiny_generator

from memstudio.cli import main
from memstudio.core.directions.base import Direction
from memstudio.core.directions.samples import Samples
from memstudio.core.distributed import DistContext, gather_in_order, rounds, shard_range
from memstudio.core.generators.rosinality import nvidia_to_rosinality

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """The in-process run computes like each rank (one thread), so batches give the same floats."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS="1",
        MEMSTUDIO_DEVICE="cpu",
        PYTHONPATH=str(REPO),
        MEMSTUDIO_CACHE_DIR=str(tmp_path / "cache"),
        MEMSTUDIO_DIST_TIMEOUT="120",
    )
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    return env


def _launch(args: list[str], tmp_path: Path, module: bool = True) -> subprocess.Popen[str]:
    target = ["-m", "memstudio", *args] if module else args
    return subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *target],
        env=_env(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _torchrun(args: list[str], tmp_path: Path, module: bool = True) -> subprocess.CompletedProcess[str]:
    process = _launch(args, tmp_path, module)
    out, err = process.communicate(timeout=240)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _noise_images(folder: Path, count: int, side: int, seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        height = side + int(rng.integers(0, side // 2))  # sizes differ, so batches mix shapes
        path = folder / f"img{i:02d}.png"
        Image.fromarray(rng.integers(0, 255, (height, side, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def rosinality_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    g = tiny_generator()
    with torch.no_grad():
        # rosinality's mapping layers scale their weights by lr_mlp = 0.01 when they run; randn weights would
        # make w (and every image) almost the same for all z, so these are stored 100× larger, as trained
        # weights are, and the brightness of the images varies with z (std ≈ 0.16).
        for name, p in g.named_parameters():
            if name.startswith("mapping.") and p.ndim > 1:
                p.mul_(100.0)
    path = tmp_path_factory.mktemp("gen") / "tiny-ros.pt"
    state = {
        "g_ema": nvidia_to_rosinality(g),
        "latent_avg": g.w_avg.clone(),
        "args": argparse.Namespace(size=16, n_mlp=3),
    }
    torch.save(state, path)
    return path


def test_rounds_and_blocks_cover_the_input_in_order() -> None:
    for world in (1, 2, 3):
        ctxs = [DistContext(rank=r, world_size=world) for r in range(world)]
        per_rank = [list(rounds(11, 2, ctx)) for ctx in ctxs]
        assert len({len(p) for p in per_rank}) == 1  # the same number of rounds everywhere: gathers pair up
        order = [i for k in range(len(per_rank[0])) for p in per_rank for i in p[k]]
        assert order == list(range(11))
        assert [i for ctx in ctxs for i in shard_range(10, ctx)] == list(range(10))
    assert gather_in_order([3, 1], DistContext()) == [3, 1]


def test_score_two_processes_equal_one_and_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _noise_images(tmp_path / "set", 7, 24)
    (tmp_path / "set" / "img02-empty.png").write_bytes(b"")  # sorted third: rank 1's in the first round
    listing = tmp_path / "more.csv"
    listing.write_text("path,label\nset/img01.png,a\nextra/img00.png,b\n")
    _noise_images(tmp_path / "extra", 1, 30, seed=1)
    args = ["score", "-a", "brightness", "-a", "entropy", "--batch-size", "2", "set", "--from", str(listing)]

    two = _torchrun([*args, "-o", "two.jsonl"], tmp_path)
    monkeypatch.chdir(tmp_path)  # the same relative paths as the launched run
    assert main([*args, "-o", "one.jsonl"]) == 2  # exit status 2: a bad file
    one = (tmp_path / "one.jsonl").read_text()
    assert (tmp_path / "two.jsonl").read_text() == one, two.stderr  # bit-identical, in input order
    records = [json.loads(line) for line in one.splitlines()]
    names = sorted(p.name for p in (tmp_path / "set").iterdir())
    expected = [f"set/{n}" for n in names] + [str(tmp_path / "set/img01.png"), str(tmp_path / "extra/img00.png")]
    assert [r["path"] for r in records] == expected and len(records) == 10
    assert records[2]["path"] == "set/img02-empty.png" and "empty" in records[2]["error"]
    assert all(set(r["scores"]) == {"brightness", "entropy"} for i, r in enumerate(records) if i != 2)
    # Reported once, by rank 0, naming the rank that met it (the second batch of the first round: rank 1).
    assert two.stderr.count("img02-empty.png") == 1 and "rank 1: set/img02-empty.png" in two.stderr
    capsys.readouterr()

    # Interrupted after three records and mid-write of the fourth: the restart drops the torn line, skips
    # what is done, and ends with the very same file.
    lines = one.splitlines(keepends=True)
    (tmp_path / "resumed.jsonl").write_text("".join(lines[:3]) + lines[3][:10])
    assert main([*args, "-o", "resumed.jsonl"]) == 0  # the bad file was among the three recorded
    assert (tmp_path / "resumed.jsonl").read_text() == one
    assert "3 already in" in capsys.readouterr().err


def _rank_pid(parent: int, rank: int) -> int | None:
    """The worker torchrun (``parent``) started as ``rank``, found through /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and f"RANK={rank}".encode() in environ:
            return int(entry.name)
    return None


def test_a_rank_that_dies_stops_the_others_and_the_run_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _noise_images(tmp_path / "many", 60, 200)
    args = ["score", "-a", "entropy", "--batch-size", "1", "many"]
    monkeypatch.chdir(tmp_path)
    assert main([*args, "-o", "full.jsonl"]) == 0
    full = (tmp_path / "full.jsonl").read_text().splitlines(keepends=True)
    out = tmp_path / "cut.jsonl"
    process = _launch([*args, "-o", out.name], tmp_path)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not (out.exists() and out.read_text().count("\n") >= 4):
        time.sleep(0.01)
    victim = _rank_pid(process.pid, 1)
    assert victim is not None
    os.kill(victim, signal.SIGSTOP)  # frozen first, so it cannot finish between the check and the kill
    os.kill(victim, signal.SIGKILL)
    _, err = process.communicate(timeout=120)
    assert process.returncode != 0
    # Rank 0 sees the lost connection (or torchrun's SIGTERM first) and names the rank that never arrived.
    assert "memstudio: error: rank 0: " in err and "rank 1 is gone" in err, err
    kept = out.read_text().splitlines(keepends=True)
    assert 4 <= len(kept) < len(full)
    assert kept == full[: len(kept)]  # whole lines only, a prefix of the input order
    capsys.readouterr()
    assert main([*args, "-o", out.name]) == 0
    assert out.read_text().splitlines(keepends=True) == full


def test_sample_on_two_processes_equals_one_and_a_hyperplane_fits_from_it(
    tmp_path: Path, rosinality_file: Path
) -> None:
    args = ["direction", "sample", "--generator", str(rosinality_file), "--assessor", "brightness"]
    args += ["--space", "w", "--num-samples", "30", "--batch", "4", "--seed", "7", "--quiet"]
    two = _torchrun([*args, "-o", str(tmp_path / "two.safetensors")], tmp_path)
    assert two.returncode == 0, two.stderr
    assert main([*args, "-o", str(tmp_path / "one.safetensors")]) == 0
    a, b = Samples.load(tmp_path / "one.safetensors"), Samples.load(tmp_path / "two.safetensors")
    assert a.latents.shape == (30, 32) and a.space == "w" and a.seed == 7
    assert torch.equal(a.latents, b.latents)  # sample i's z from (seed, i), whoever draws it
    assert torch.equal(a.scores, b.scores)  # the same batches as one process: the same floats
    assert a.generator["checkpoint_sha256"] == b.generator["checkpoint_sha256"]
    assert float(a.scores.std()) > 0.05  # images that differ: the hyperplane below has something to find

    fitted = []
    for name in ("one", "two"):
        out = tmp_path / f"{name}-plane.json"
        fit = ["direction", "train", "--method", "hyperplane", "--generator", str(rosinality_file)]
        fit += ["--assessor", "brightness", "--samples", str(tmp_path / f"{name}.safetensors")]
        assert main([*fit, "--no-eval", "--quiet", "-o", str(out)]) == 0
        fitted.append(Direction.load(out))
    assert fitted[0].space == "w" and fitted[0].settings["num_samples"] == 30
    assert fitted[0].metrics["num_train"] + fitted[0].metrics["num_test"] == 30
    assert fitted[0].metrics["train_accuracy"] >= 0.8
    assert torch.equal(fitted[0].vector, fitted[1].vector)


def test_ganalyze_two_ranks_equal_one_with_the_global_batch_and_resume_elsewhere(
    tmp_path: Path, rosinality_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ["direction", "train", "--generator", str(rosinality_file), "--assessor", "brightness"]
    base += ["--space", "w", "--alpha-max", "0.1", "--lr", "0.05", "--no-eval", "--quiet", "--seed", "3"]
    # Two ranks × 2 samples for 3 steps, keeping the training state rank 0 wrote.
    two = _torchrun([*base, "--steps", "3", "--batch-size", "2", "--keep-checkpoint", "-o", "two.json"], tmp_path)
    assert two.returncode == 0, two.stderr
    checkpoint = tmp_path / "two.ckpt.pt"
    assert torch.load(checkpoint, weights_only=True)["step"] == 3
    monkeypatch.chdir(tmp_path)
    assert main([*base, "--steps", "3", "--batch-size", "4", "-o", "one3.json"]) == 0
    two_ranks, one_rank = Direction.load(tmp_path / "two.json"), Direction.load(tmp_path / "one3.json")
    assert two_ranks.settings["batch_size"] == one_rank.settings["batch_size"] == 4
    # Float32 sums in another order (two partial gradients added, not one): ~1e-7 relative per step.
    assert _relative_gap(two_ranks.vector, one_rank.vector) < 1e-5
    assert two_ranks.metrics["final_loss"] == pytest.approx(one_rank.metrics["final_loss"], rel=1e-5)
    assert two_ranks.metrics["theta_norm"] > 0.05  # θ moved well away from its 1e-3 start: a real comparison

    # The 2-rank checkpoint resumes on one process (global batch 4) to 6 steps: as if never split.
    resumed = main([*base, "--steps", "6", "--batch-size", "4", "--checkpoint", str(checkpoint), "-o", "res.json"])
    assert resumed == 0
    assert main([*base, "--steps", "6", "--batch-size", "4", "-o", "one6.json"]) == 0
    # Adam's steps amplify the 1e-8 gaps of the first steps near θ's sign changes: up to ~1e-6 elementwise.
    resumed_vector = Direction.load(tmp_path / "res.json").vector
    assert _relative_gap(resumed_vector, Direction.load(tmp_path / "one6.json").vector) < 1e-5
    assert not checkpoint.exists()  # consumed by the successful resumed run


def _relative_gap(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖a − b‖ / ‖b‖: the size of a float-order difference relative to θ itself."""
    return float((a - b).norm() / b.norm())


HASH_CHECK = """
import os, torch
from memstudio.core import distributed
from memstudio.core.errors import MemstudioError

with distributed.session(torch.device("cpu")) as ctx:
    assert ctx.world_size == 2 and ctx.backend == "gloo" and str(ctx.device) == "cpu"
    print(f"GATHERED {distributed.gather_in_order([ctx.rank * 10, ctx.rank * 10 + 1], ctx)}", flush=True)
    total = distributed.all_reduce_sum_(torch.tensor([ctx.rank + 1.0]), ctx)
    print(f"SUM {float(total)}", flush=True)
    distributed.check_same_models(ctx, {"generator g": "same"})
    try:
        distributed.check_same_models(ctx, {"generator g": "aaaa" if ctx.rank == 0 else "bbbb"})
    except MemstudioError as exc:
        print(f"REFUSED rank {ctx.rank}: {exc}", flush=True)
"""


def test_ranks_with_other_model_files_are_refused(tmp_path: Path) -> None:
    script = tmp_path / "hashes.py"
    script.write_text(HASH_CHECK)
    run = _torchrun([str(script)], tmp_path, module=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("GATHERED [0, 1, 10, 11]") == 2 and run.stdout.count("SUM 3.0") == 2
    for rank in (0, 1):
        assert f"REFUSED rank {rank}: generator g: rank 1 loaded other weights than rank 0" in run.stdout
    assert "bbbb vs aaaa" in run.stdout


def test_heatmaps_of_a_folder_on_two_processes_equal_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _noise_images(tmp_path / "photos", 5, 40)
    (tmp_path / "photos" / "img03-bad.png").write_text("not a picture")
    args = ["heatmap", "photos", "--assessor", "brightness", "--method", "regions", "--format", "npy"]
    two = _torchrun([*args, "-o", "two"], tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main([*args, "-o", "one"]) == 2  # the bad file
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert names == [f"img0{i}.npy" for i in range(5)]
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == names, two.stderr
    for name in names:
        np.testing.assert_array_equal(np.load(tmp_path / "two" / name), np.load(tmp_path / "one" / name))
    assert two.stderr.count("img03-bad.png") == 1 and "rank 1: photos/img03-bad.png" in two.stderr
    # Started again, only what is missing is computed.
    (tmp_path / "one" / "img01.npy").unlink()
    assert main([*args, "-o", "one"]) == 2
    assert (tmp_path / "one" / "img01.npy").exists()


def _vms_data(folder: Path) -> Path:
    (folder / "images").mkdir(parents=True)
    (folder / "maps").mkdir()
    rng = np.random.default_rng(0)
    for i in range(9):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / "images" / f"{i}.png")
        np.save(folder / "maps" / f"{i}.npy", rng.random((32, 32)).astype(np.float32))
    return folder


def _assert_same_weights(a: Path, b: Path) -> None:
    from memstudio.core.maps.vms_checkpoint import read_checkpoint

    config_a, meta_a, tensors_a = read_checkpoint(a)
    config_b, meta_b, tensors_b = read_checkpoint(b)
    assert config_a == config_b and meta_a["epoch"] == meta_b["epoch"] and set(tensors_a) == set(tensors_b)
    for key, value in tensors_a.items():
        # Partial gradients of 2 ranks summed: another float32 order than one process. After 2 epochs the
        # weights agree to ≈2e-6 of their scale; Adam turns the sign of a near-zero gradient into a full
        # learning-rate step, so on AVX-512 kernels one resumed epoch parts them by up to ≈2e-5 of their scale
        # (6e-7 absolute on a bias near zero). The same run with the wrong global batch (2 instead of 4) parts
        # them by 0.83 of their scale: this bound tells the two apart by four orders of magnitude.
        scale = float(value.float().abs().max()) + 1e-12
        torch.testing.assert_close(
            tensors_b[key].float(),
            value.float(),
            rtol=0,
            atol=1e-4 * scale + 5e-6,
            msg=lambda m, key=key: f"{key}: {m}",
        )
    for ha, hb in zip(meta_a["history"], meta_b["history"], strict=True):
        assert hb == pytest.approx(ha, rel=1e-5)


def test_vms_train_on_two_ranks_equals_one_with_the_global_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _vms_data(tmp_path / "data")
    layout = ["--encoder", "3,8,16", "--disc-channels", "4,8,16", "--image-size", "32", "--norm", "instance"]
    two = _torchrun(["vms", "train", "data", "-o", "two", "--epochs", "2", "--batch-size", "2", *layout], tmp_path)
    assert two.returncode == 0, two.stderr
    monkeypatch.chdir(tmp_path)
    assert main(["vms", "train", "data", "-o", "one", "--epochs", "2", "--batch-size", "4", *layout, "--quiet"]) == 0
    _assert_same_weights(tmp_path / "one", tmp_path / "two")
    # The 2-rank checkpoint resumes in one process (the global batch is in its config).
    for name in ("one", "two"):
        assert main(["vms", "train", "data", "-o", name, "--epochs", "3", "--resume", "--quiet"]) == 0
    _assert_same_weights(tmp_path / "one", tmp_path / "two")


def test_vms_batch_norm_on_several_cpu_processes_is_refused(tmp_path: Path) -> None:
    from memstudio.core.errors import MemstudioError
    from memstudio.core.maps.vms import VMSConfig
    from memstudio.core.maps.vms_train import train_job

    job = train_job(tmp_path, tmp_path / "out", VMSConfig(), ctx=DistContext(rank=0, world_size=2))
    with pytest.raises(MemstudioError, match="SyncBatchNorm needs GPUs"):
        next(job)
