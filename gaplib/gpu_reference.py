"""Stored GPU results: rows of the GPU benchmark tables, for notebook 09 on a machine without a GPU.

The `STORED` block (between the `# stored:` markers) is written by scripts/gpu_reference.py from
benchmarks/reference/h100_gpu_pool.md and h200_gpu_pool.md (the tables `benchmarks/bench_gpu_pool.py` printed on
one H100 and one H200); do not edit that block by hand. Each case holds,
per implementation, six numbers: forward µs and % of copy bandwidth, the training forward (input requires grad)
µs and %, backward µs and % (None where the table has no value). Rows named `compiled ...` are torch.compile'd
spellings (in tables measured with them); `race` sets gaplib against the best eager and the best compiled spelling.
tests/test_gpu_reference.py checks the copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from gaplib._checks import check_choice

__all__ = ["STORED", "RaceCell", "StoredResult", "StoredRun", "describe", "has_compiled", "race", "stored"]

Numbers = tuple[float | None, float | None, float | None, float | None, float | None, float | None]


@dataclass(frozen=True)
class StoredRun:
    """One stored benchmark run: the GPU, torch, its copy bandwidth, the table it came from and that table's commit."""

    gpu: str
    torch: str
    copy_tb_s: float
    source: str
    commit: str
    date: str
    cases: dict[tuple[tuple[int, int, int, int], str, str], dict[str, Numbers]]


@dataclass(frozen=True)
class StoredResult:
    """One implementation's stored times (µs) and shares of the copy bandwidth (%) on one case."""

    fwd_us: float
    fwd_pct: float
    train_fwd_us: float | None
    train_fwd_pct: float | None
    bwd_us: float | None
    bwd_pct: float | None


@dataclass(frozen=True)
class RaceCell:
    """One op and column of a stored case: gaplib's share of the same-bytes copy (%), and the best eager and best
    compiled PyTorch spelling as (name, share) or None (a table without compiled rows has no compiled rival)."""

    gaplib: float
    eager: tuple[str, float] | None
    compiled: tuple[str, float] | None


# stored: start (scripts/gpu_reference.py writes this block)
STORED: dict[str, StoredRun] = {
    "H100": StoredRun(
        gpu="NVIDIA H100 80GB HBM3",
        torch="2.11.0+cu130",
        copy_tb_s=3.01,
        source="benchmarks/reference/h100_gpu_pool.md",
        commit="d4a03bb",
        date="2026-11-25",
        cases={
            ((256, 2048, 7, 7), "fp32", "NCHW"): {
                "copy, same bytes": (70.9, 96.0, None, None, None, None),
                "x.mean((2,3))": (121.3, 29.0, None, None, 66.3, 53.0),
                "nn.AdaptiveAvgPool2d(1)": (121.8, 29.0, None, None, 62.8, 56.0),
                "gaplib gap": (36.0, 97.0, None, None, 38.1, 92.0),
                "x.amax((2,3))": (135.5, 26.0, 135.2, 26.0, 410.9, 8.0),
                "nn.AdaptiveMaxPool2d(1)": (742.3, 5.0, 744.7, 5.0, 350.7, 10.0),
                "gaplib gmp": (36.4, 96.0, 38.0, 91.0, 40.4, 86.0),
                "fastai AdaptiveConcatPool2d": (865.7, 4.0, 868.9, 4.0, 518.9, 7.0),
                "gaplib concat_pool": (34.9, 102.0, 36.4, 97.0, 41.3, 86.0),
            },
            ((256, 2048, 7, 7), "bf16", "NCHW"): {
                "copy, same bytes": (36.3, 94.0, None, None, None, None),
                "x.mean((2,3))": (115.6, 15.0, None, None, 44.2, 39.0),
                "nn.AdaptiveAvgPool2d(1)": (116.2, 15.0, None, None, 44.1, 40.0),
                "gaplib gap": (19.1, 91.0, None, None, 19.8, 88.0),
                "x.amax((2,3))": (160.3, 11.0, 160.5, 11.0, 408.9, 4.0),
                "nn.AdaptiveMaxPool2d(1)": (739.4, 2.0, 742.0, 2.0, 343.0, 5.0),
                "gaplib gmp": (20.1, 86.0, 23.2, 75.0, 19.3, 90.0),
                "fastai AdaptiveConcatPool2d": (855.3, 2.0, 861.1, 2.0, 451.4, 4.0),
                "gaplib concat_pool": (20.8, 86.0, 20.8, 85.0, 20.4, 87.0),
            },
            ((256, 2048, 7, 7), "fp32", "channels_last"): {
                "copy, same bytes": (71.0, 96.0, None, None, None, None),
                "x.mean((2,3))": (38.6, 90.0, None, None, 62.8, 56.0),
                "nn.AdaptiveAvgPool2d(1)": (38.7, 90.0, None, None, 67.7, 52.0),
                "gaplib gap": (38.6, 90.0, None, None, 41.3, 84.0),
                "x.amax((2,3))": (39.2, 89.0, 38.9, 89.0, 367.3, 10.0),
                "nn.AdaptiveMaxPool2d(1)": (848.8, 4.0, 853.0, 4.0, 555.6, 6.0),
                "gaplib gmp": (38.7, 90.0, 94.2, 37.0, 43.7, 80.0),
                "fastai AdaptiveConcatPool2d": (890.1, 4.0, 896.8, 4.0, 766.0, 5.0),
                "gaplib concat_pool": (83.6, 43.0, 153.8, 23.0, 46.6, 76.0),
            },
            ((256, 2048, 7, 7), "bf16", "channels_last"): {
                "copy, same bytes": (36.2, 94.0, None, None, None, None),
                "x.mean((2,3))": (21.5, 81.0, None, None, 44.5, 39.0),
                "nn.AdaptiveAvgPool2d(1)": (21.5, 81.0, None, None, 47.9, 36.0),
                "gaplib gap": (21.4, 81.0, None, None, 18.8, 93.0),
                "x.amax((2,3))": (25.8, 68.0, 25.8, 67.0, 366.6, 5.0),
                "nn.AdaptiveMaxPool2d(1)": (846.3, 2.0, 847.8, 2.0, 490.6, 4.0),
                "gaplib gmp": (25.8, 68.0, 48.8, 36.0, 21.1, 83.0),
                "fastai AdaptiveConcatPool2d": (871.3, 2.0, 875.7, 2.0, 662.4, 3.0),
                "gaplib concat_pool": (51.7, 34.0, 67.8, 26.0, 21.8, 82.0),
            },
            ((128, 256, 32, 32), "fp32", "NCHW"): {
                "copy, same bytes": (92.4, 96.0, None, None, None, None),
                "x.mean((2,3))": (49.2, 91.0, None, None, 81.0, 55.0),
                "nn.AdaptiveAvgPool2d(1)": (49.2, 91.0, None, None, 81.4, 55.0),
                "gaplib gap": (44.3, 101.0, None, None, 43.3, 103.0),
                "x.amax((2,3))": (49.7, 90.0, 49.6, 90.0, 441.3, 10.0),
                "nn.AdaptiveMaxPool2d(1)": (593.4, 8.0, 593.3, 8.0, 63.0, 71.0),
                "gaplib gmp": (44.3, 101.0, 46.9, 95.0, 44.2, 101.0),
                "fastai AdaptiveConcatPool2d": (645.5, 7.0, 644.0, 7.0, 281.3, 16.0),
                "gaplib concat_pool": (45.1, 99.0, 48.4, 92.0, 44.2, 101.0),
            },
            ((128, 256, 32, 32), "bf16", "NCHW"): {
                "copy, same bytes": (46.7, 95.0, None, None, None, None),
                "x.mean((2,3))": (27.5, 81.0, None, None, 56.7, 39.0),
                "nn.AdaptiveAvgPool2d(1)": (27.7, 81.0, None, None, 57.0, 39.0),
                "gaplib gap": (23.5, 95.0, None, None, 22.7, 98.0),
                "x.amax((2,3))": (33.0, 68.0, 32.7, 68.0, 442.7, 5.0),
                "nn.AdaptiveMaxPool2d(1)": (580.3, 4.0, 579.1, 4.0, 44.3, 50.0),
                "gaplib gmp": (23.7, 94.0, 49.8, 45.0, 23.2, 96.0),
                "fastai AdaptiveConcatPool2d": (609.3, 4.0, 609.9, 4.0, 186.1, 12.0),
                "gaplib concat_pool": (26.4, 85.0, 55.5, 40.0, 23.5, 95.0),
            },
            ((128, 256, 32, 32), "fp32", "channels_last"): {
                "copy, same bytes": (95.0, 94.0, None, None, None, None),
                "x.mean((2,3))": (54.6, 82.0, None, None, 81.1, 55.0),
                "nn.AdaptiveAvgPool2d(1)": (54.5, 82.0, None, None, 84.1, 53.0),
                "gaplib gap": (49.8, 90.0, None, None, 44.2, 101.0),
                "x.amax((2,3))": (55.4, 81.0, 55.3, 81.0, 478.3, 9.0),
                "nn.AdaptiveMaxPool2d(1)": (863.7, 5.0, 862.4, 5.0, 328.0, 14.0),
                "gaplib gmp": (49.9, 90.0, 54.4, 82.0, 44.1, 101.0),
                "fastai AdaptiveConcatPool2d": (918.9, 5.0, 922.1, 5.0, 695.3, 6.0),
                "gaplib concat_pool": (55.0, 81.0, 70.0, 64.0, 45.0, 99.0),
            },
            ((128, 256, 32, 32), "bf16", "channels_last"): {
                "copy, same bytes": (46.9, 95.0, None, None, None, None),
                "x.mean((2,3))": (33.9, 66.0, None, None, 56.9, 39.0),
                "nn.AdaptiveAvgPool2d(1)": (33.8, 66.0, None, None, 59.6, 38.0),
                "gaplib gap": (34.4, 65.0, None, None, 22.6, 99.0),
                "x.amax((2,3))": (44.5, 50.0, 44.2, 50.0, 476.6, 5.0),
                "nn.AdaptiveMaxPool2d(1)": (816.3, 3.0, 815.9, 3.0, 268.3, 8.0),
                "gaplib gmp": (34.6, 65.0, 42.4, 53.0, 24.5, 91.0),
                "fastai AdaptiveConcatPool2d": (855.2, 3.0, 853.5, 3.0, 595.5, 4.0),
                "gaplib concat_pool": (43.8, 51.0, 57.0, 39.0, 23.4, 96.0),
            },
            ((64, 64, 112, 112), "fp32", "NCHW"): {
                "copy, same bytes": (140.2, 97.0, None, None, None, None),
                "x.mean((2,3))": (76.6, 89.0, None, None, 124.1, 55.0),
                "nn.AdaptiveAvgPool2d(1)": (76.4, 89.0, None, None, 124.4, 55.0),
                "gaplib gap": (70.6, 97.0, None, None, 67.2, 102.0),
                "x.amax((2,3))": (77.8, 88.0, 77.3, 88.0, 660.1, 10.0),
                "nn.AdaptiveMaxPool2d(1)": (1568.0, 4.0, 1568.0, 4.0, 68.4, 100.0),
                "gaplib gmp": (72.4, 94.0, 74.4, 92.0, 67.5, 101.0),
                "fastai AdaptiveConcatPool2d": (1645.8, 4.0, 1645.6, 4.0, 399.3, 17.0),
                "gaplib concat_pool": (70.8, 96.0, 85.7, 79.0, 67.8, 101.0),
            },
            ((64, 64, 112, 112), "bf16", "NCHW"): {
                "copy, same bytes": (71.2, 96.0, None, None, None, None),
                "x.mean((2,3))": (45.9, 74.0, None, None, 86.0, 40.0),
                "nn.AdaptiveAvgPool2d(1)": (46.0, 74.0, None, None, 86.1, 40.0),
                "gaplib gap": (37.0, 92.0, None, None, 34.2, 100.0),
                "x.amax((2,3))": (53.3, 64.0, 53.3, 64.0, 661.8, 5.0),
                "nn.AdaptiveMaxPool2d(1)": (1569.4, 2.0, 1569.3, 2.0, 37.7, 90.0),
                "gaplib gmp": (38.3, 89.0, 53.6, 64.0, 34.3, 99.0),
                "fastai AdaptiveConcatPool2d": (1617.8, 2.0, 1619.0, 2.0, 250.6, 14.0),
                "gaplib concat_pool": (43.2, 79.0, 58.8, 58.0, 34.7, 98.0),
            },
            ((64, 64, 112, 112), "fp32", "channels_last"): {
                "copy, same bytes": (140.3, 97.0, None, None, None, None),
                "x.mean((2,3))": (83.0, 82.0, None, None, 124.0, 55.0),
                "nn.AdaptiveAvgPool2d(1)": (84.1, 81.0, None, None, 127.5, 54.0),
                "gaplib gap": (76.0, 90.0, None, None, 66.1, 103.0),
                "x.amax((2,3))": (83.5, 82.0, 82.9, 82.0, 710.5, 10.0),
                "nn.AdaptiveMaxPool2d(1)": (1987.7, 3.0, 1986.1, 3.0, 338.2, 20.0),
                "gaplib gmp": (72.0, 95.0, 74.5, 91.0, 65.8, 104.0),
                "fastai AdaptiveConcatPool2d": (2072.9, 3.0, 2070.1, 3.0, 903.6, 8.0),
                "gaplib concat_pool": (75.3, 91.0, 97.0, 70.0, 65.9, 104.0),
            },
            ((64, 64, 112, 112), "bf16", "channels_last"): {
                "copy, same bytes": (70.9, 96.0, None, None, None, None),
                "x.mean((2,3))": (51.4, 66.0, None, None, 85.9, 40.0),
                "nn.AdaptiveAvgPool2d(1)": (51.2, 67.0, None, None, 88.7, 38.0),
                "gaplib gap": (38.8, 88.0, None, None, 33.8, 101.0),
                "x.amax((2,3))": (59.4, 57.0, 59.2, 58.0, 712.9, 5.0),
                "nn.AdaptiveMaxPool2d(1)": (1970.7, 2.0, 1966.0, 2.0, 265.5, 13.0),
                "gaplib gmp": (38.5, 88.0, 40.5, 84.0, 33.7, 101.0),
                "fastai AdaptiveConcatPool2d": (2021.0, 2.0, 2018.8, 2.0, 782.7, 4.0),
                "gaplib concat_pool": (40.1, 85.0, 42.0, 81.0, 33.7, 101.0),
            },
        },
    ),
    "H200": StoredRun(
        gpu="NVIDIA H200",
        torch="2.11.0+cu130",
        copy_tb_s=4.26,
        source="benchmarks/reference/h200_gpu_pool.md",
        commit="23588db",
        date="2026-12-01",
        cases={
            ((256, 2048, 7, 7), "fp32", "NCHW"): {
                "copy, same bytes": (52.9, 91.0, None, None, None, None),
                "zero_(), same bytes written": (23.5, 103.0, None, None, None, None),
                "x.mean((2,3))": (121.0, 20.0, None, None, 62.5, 39.0),
                "nn.AdaptiveAvgPool2d(1)": (120.4, 20.0, None, None, 62.7, 39.0),
                "gaplib gap": (25.8, 96.0, None, None, 28.0, 88.0),
                "x.amax((2,3))": (136.5, 18.0, 136.7, 18.0, 389.3, 6.0),
                "nn.AdaptiveMaxPool2d(1)": (744.7, 3.0, 744.7, 3.0, 343.3, 7.0),
                "gaplib gmp": (25.7, 96.0, 28.0, 88.0, 31.0, 79.0),
                "fastai AdaptiveConcatPool2d": (866.7, 3.0, 866.6, 3.0, 482.9, 5.0),
                "gaplib concat_pool": (26.6, 95.0, 26.9, 93.0, 31.8, 79.0),
            },
            ((256, 2048, 7, 7), "bf16", "NCHW"): {
                "copy, same bytes": (26.7, 90.0, None, None, None, None),
                "zero_(), same bytes written": (16.1, 75.0, None, None, None, None),
                "x.mean((2,3))": (116.5, 11.0, None, None, 44.3, 28.0),
                "nn.AdaptiveAvgPool2d(1)": (116.7, 11.0, None, None, 44.3, 28.0),
                "gaplib gap": (15.9, 78.0, None, None, 14.9, 83.0),
                "x.amax((2,3))": (160.5, 8.0, 160.2, 8.0, 391.4, 3.0),
                "nn.AdaptiveMaxPool2d(1)": (742.9, 2.0, 741.1, 2.0, 338.6, 4.0),
                "gaplib gmp": (15.1, 81.0, 20.0, 62.0, 17.5, 71.0),
                "fastai AdaptiveConcatPool2d": (861.9, 1.0, 860.2, 1.0, 432.9, 3.0),
                "gaplib concat_pool": (15.4, 82.0, 18.4, 68.0, 16.1, 78.0),
            },
            ((256, 2048, 7, 7), "fp32", "channels_last"): {
                "copy, same bytes": (53.1, 91.0, None, None, None, None),
                "zero_(), same bytes written": (23.5, 103.0, None, None, None, None),
                "x.mean((2,3))": (29.0, 85.0, None, None, 63.1, 39.0),
                "nn.AdaptiveAvgPool2d(1)": (29.3, 84.0, None, None, 67.5, 36.0),
                "gaplib gap": (29.2, 85.0, None, None, 28.0, 88.0),
                "x.amax((2,3))": (29.5, 84.0, 29.5, 84.0, 333.5, 7.0),
                "nn.AdaptiveMaxPool2d(1)": (849.6, 3.0, 850.6, 3.0, 520.1, 5.0),
                "gaplib gmp": (29.2, 84.0, 33.0, 75.0, 29.1, 85.0),
                "fastai AdaptiveConcatPool2d": (884.0, 3.0, 886.3, 3.0, 722.3, 3.0),
                "gaplib concat_pool": (41.8, 60.0, 34.7, 72.0, 29.6, 85.0),
            },
            ((256, 2048, 7, 7), "bf16", "channels_last"): {
                "copy, same bytes": (26.7, 91.0, None, None, None, None),
                "zero_(), same bytes written": (16.2, 74.0, None, None, None, None),
                "x.mean((2,3))": (16.5, 75.0, None, None, 44.7, 28.0),
                "nn.AdaptiveAvgPool2d(1)": (16.5, 75.0, None, None, 47.8, 26.0),
                "gaplib gap": (16.4, 75.0, None, None, 14.5, 85.0),
                "x.amax((2,3))": (24.1, 51.0, 24.1, 51.0, 336.9, 4.0),
                "nn.AdaptiveMaxPool2d(1)": (849.1, 1.0, 849.8, 1.0, 467.1, 3.0),
                "gaplib gmp": (24.2, 51.0, 47.6, 26.0, 16.5, 75.0),
                "fastai AdaptiveConcatPool2d": (870.9, 1.0, 871.2, 1.0, 635.4, 2.0),
                "gaplib concat_pool": (43.0, 29.0, 67.5, 19.0, 17.5, 72.0),
            },
            ((128, 256, 32, 32), "fp32", "NCHW"): {
                "copy, same bytes": (68.3, 92.0, None, None, None, None),
                "zero_(), same bytes written": (30.2, 105.0, None, None, None, None),
                "x.mean((2,3))": (37.9, 83.0, None, None, 81.1, 39.0),
                "nn.AdaptiveAvgPool2d(1)": (37.9, 83.0, None, None, 82.2, 38.0),
                "gaplib gap": (31.9, 99.0, None, None, 31.6, 100.0),
                "x.amax((2,3))": (39.0, 81.0, 39.0, 81.0, 389.2, 8.0),
                "nn.AdaptiveMaxPool2d(1)": (591.5, 5.0, 591.4, 5.0, 51.8, 61.0),
                "gaplib gmp": (31.3, 101.0, 36.2, 87.0, 31.8, 99.0),
                "fastai AdaptiveConcatPool2d": (631.1, 5.0, 631.4, 5.0, 230.1, 14.0),
                "gaplib concat_pool": (32.1, 98.0, 36.7, 86.0, 32.0, 99.0),
            },
            ((128, 256, 32, 32), "bf16", "NCHW"): {
                "copy, same bytes": (34.3, 92.0, None, None, None, None),
                "zero_(), same bytes written": (20.7, 76.0, None, None, None, None),
                "x.mean((2,3))": (22.4, 71.0, None, None, 57.0, 28.0),
                "nn.AdaptiveAvgPool2d(1)": (22.4, 70.0, None, None, 57.0, 28.0),
                "gaplib gap": (17.7, 89.0, None, None, 16.5, 96.0),
                "x.amax((2,3))": (29.2, 54.0, 29.1, 54.0, 396.0, 4.0),
                "nn.AdaptiveMaxPool2d(1)": (585.1, 3.0, 583.8, 3.0, 43.5, 36.0),
                "gaplib gmp": (18.6, 85.0, 50.0, 32.0, 17.0, 93.0),
                "fastai AdaptiveConcatPool2d": (607.6, 3.0, 607.1, 3.0, 166.5, 9.0),
                "gaplib concat_pool": (24.2, 65.0, 55.3, 29.0, 17.7, 89.0),
            },
            ((128, 256, 32, 32), "fp32", "channels_last"): {
                "copy, same bytes": (68.9, 92.0, None, None, None, None),
                "zero_(), same bytes written": (30.4, 104.0, None, None, None, None),
                "x.mean((2,3))": (42.7, 74.0, None, None, 82.1, 38.0),
                "nn.AdaptiveAvgPool2d(1)": (42.5, 74.0, None, None, 84.6, 37.0),
                "gaplib gap": (37.7, 84.0, None, None, 33.1, 95.0),
                "x.amax((2,3))": (43.2, 73.0, 43.1, 73.0, 424.7, 7.0),
                "nn.AdaptiveMaxPool2d(1)": (824.6, 4.0, 822.6, 4.0, 278.7, 11.0),
                "gaplib gmp": (37.1, 85.0, 42.2, 75.0, 33.2, 95.0),
                "fastai AdaptiveConcatPool2d": (869.8, 4.0, 869.5, 4.0, 607.6, 5.0),
                "gaplib concat_pool": (42.8, 74.0, 60.3, 52.0, 33.5, 94.0),
            },
            ((128, 256, 32, 32), "bf16", "channels_last"): {
                "copy, same bytes": (34.3, 92.0, None, None, None, None),
                "zero_(), same bytes written": (20.9, 76.0, None, None, None, None),
                "x.mean((2,3))": (27.3, 58.0, None, None, 57.1, 28.0),
                "nn.AdaptiveAvgPool2d(1)": (27.2, 58.0, None, None, 59.8, 26.0),
                "gaplib gap": (29.8, 53.0, None, None, 16.8, 94.0),
                "x.amax((2,3))": (41.8, 38.0, 41.8, 38.0, 427.7, 4.0),
                "nn.AdaptiveMaxPool2d(1)": (784.6, 2.0, 783.4, 2.0, 239.1, 7.0),
                "gaplib gmp": (29.6, 53.0, 36.7, 43.0, 17.5, 90.0),
                "fastai AdaptiveConcatPool2d": (814.9, 2.0, 815.8, 2.0, 526.6, 3.0),
                "gaplib concat_pool": (39.1, 40.0, 52.2, 30.0, 18.3, 86.0),
            },
            ((64, 64, 112, 112), "fp32", "NCHW"): {
                "copy, same bytes": (103.2, 94.0, None, None, None, None),
                "zero_(), same bytes written": (45.4, 106.0, None, None, None, None),
                "x.mean((2,3))": (58.8, 82.0, None, None, 123.4, 39.0),
                "nn.AdaptiveAvgPool2d(1)": (58.9, 82.0, None, None, 124.1, 39.0),
                "gaplib gap": (49.2, 98.0, None, None, 49.1, 98.0),
                "x.amax((2,3))": (60.2, 80.0, 60.1, 80.0, 581.0, 8.0),
                "nn.AdaptiveMaxPool2d(1)": (1563.4, 3.0, 1562.6, 3.0, 49.5, 98.0),
                "gaplib gmp": (53.2, 91.0, 56.1, 86.0, 49.4, 98.0),
                "fastai AdaptiveConcatPool2d": (1625.7, 3.0, 1625.9, 3.0, 319.1, 15.0),
                "gaplib concat_pool": (52.0, 93.0, 72.4, 67.0, 49.8, 97.0),
            },
            ((64, 64, 112, 112), "bf16", "NCHW"): {
                "copy, same bytes": (51.4, 94.0, None, None, None, None),
                "zero_(), same bytes written": (31.4, 77.0, None, None, None, None),
                "x.mean((2,3))": (38.2, 63.0, None, None, 87.5, 28.0),
                "nn.AdaptiveAvgPool2d(1)": (38.2, 63.0, None, None, 87.1, 28.0),
                "gaplib gap": (28.2, 86.0, None, None, 26.1, 93.0),
                "x.amax((2,3))": (49.6, 49.0, 49.4, 49.0, 588.3, 4.0),
                "nn.AdaptiveMaxPool2d(1)": (1573.5, 2.0, 1571.2, 2.0, 36.2, 67.0),
                "gaplib gmp": (29.4, 82.0, 52.3, 46.0, 26.3, 92.0),
                "fastai AdaptiveConcatPool2d": (1613.0, 1.0, 1612.6, 1.0, 219.5, 11.0),
                "gaplib concat_pool": (35.2, 69.0, 57.7, 42.0, 26.6, 91.0),
            },
            ((64, 64, 112, 112), "fp32", "channels_last"): {
                "copy, same bytes": (104.0, 93.0, None, None, None, None),
                "zero_(), same bytes written": (45.7, 106.0, None, None, None, None),
                "x.mean((2,3))": (63.4, 76.0, None, None, 124.3, 39.0),
                "nn.AdaptiveAvgPool2d(1)": (63.4, 76.0, None, None, 126.9, 38.0),
                "gaplib gap": (51.6, 94.0, None, None, 48.5, 100.0),
                "x.amax((2,3))": (63.8, 76.0, 63.7, 76.0, 638.7, 8.0),
                "nn.AdaptiveMaxPool2d(1)": (1919.7, 3.0, 1920.0, 3.0, 312.9, 15.0),
                "gaplib gmp": (51.4, 94.0, 55.2, 88.0, 48.1, 100.0),
                "fastai AdaptiveConcatPool2d": (1984.1, 2.0, 1984.3, 2.0, 807.8, 6.0),
                "gaplib concat_pool": (54.7, 88.0, 79.6, 61.0, 48.2, 100.0),
            },
            ((64, 64, 112, 112), "bf16", "channels_last"): {
                "copy, same bytes": (51.6, 94.0, None, None, None, None),
                "zero_(), same bytes written": (31.3, 77.0, None, None, None, None),
                "x.mean((2,3))": (40.6, 59.0, None, None, 86.2, 28.0),
                "nn.AdaptiveAvgPool2d(1)": (40.5, 60.0, None, None, 89.9, 27.0),
                "gaplib gap": (29.0, 83.0, None, None, 25.5, 95.0),
                "x.amax((2,3))": (56.7, 43.0, 56.5, 43.0, 646.6, 4.0),
                "nn.AdaptiveMaxPool2d(1)": (1912.9, 1.0, 1912.6, 1.0, 266.2, 9.0),
                "gaplib gmp": (28.9, 84.0, 31.4, 77.0, 25.6, 94.0),
                "fastai AdaptiveConcatPool2d": (1955.6, 1.0, 1955.7, 1.0, 730.8, 3.0),
                "gaplib concat_pool": (30.6, 79.0, 32.7, 74.0, 25.3, 95.0),
            },
        },
    ),
}
# stored: end


def describe(gpu: str) -> str:
    """One line saying where the stored results of `gpu` ('H100' or 'H200') were measured, and when."""
    run = STORED[check_choice(gpu, "gpu", tuple(STORED))]
    return (
        f"{run.gpu} (torch {run.torch}, copy bandwidth {run.copy_tb_s} TB/s), from {run.source}"
        f" at commit {run.commit} ({run.date})"
    )


def stored(
    gpu: str, shape: tuple[int, int, int, int], dtype: str = "fp32", layout: str = "NCHW"
) -> dict[str, StoredResult]:
    """The stored results of one case on `gpu`: implementation name -> StoredResult."""
    run = STORED[check_choice(gpu, "gpu", tuple(STORED))]
    key = (tuple(shape) if isinstance(shape, (tuple, list)) else shape, dtype, layout)
    if key not in run.cases:
        kept = ", ".join(f"{s} {d} {lay}" for s, d, lay in run.cases)
        raise ValueError(f"shape, dtype and layout must be a stored case ({kept}), got {shape} {dtype} {layout}")
    return {impl: StoredResult(*nums) for impl, nums in run.cases[key].items()}


def has_compiled(gpu: str) -> bool:
    """Whether the stored table of `gpu` has torch.compile rows."""
    run = STORED[check_choice(gpu, "gpu", tuple(STORED))]
    return any(impl.startswith("compiled") for case in run.cases.values() for impl in case)


def _op(impl: str) -> str | None:
    """The op an implementation name computes: 'avg', 'max', 'concat', or None (the copy and zero_ rows)."""
    if "concat" in impl.lower() or "cat(" in impl:
        return "concat"
    if "mean" in impl or "Avg" in impl or impl.endswith(" gap"):
        return "avg"
    if "amax" in impl or "Max" in impl or impl.endswith(" gmp"):
        return "max"
    return None


def race(
    gpu: str, shape: tuple[int, int, int, int], dtype: str = "fp32", layout: str = "NCHW"
) -> dict[tuple[str, str], RaceCell]:
    """gaplib against the best eager and compiled spelling on a stored case: (op, column) -> RaceCell.

    Ops are 'avg', 'max', 'concat'; columns 'fwd', 'train fwd' (max and concat), 'bwd'. Shares are % of the case's
    same-bytes copy, so 100 is the speed of a copy of the same bytes.
    """
    found = stored(gpu, shape, dtype, layout)
    copy = found["copy, same bytes"].fwd_pct
    columns = {"fwd": "fwd_pct", "train fwd": "train_fwd_pct", "bwd": "bwd_pct"}
    cells = {}
    for impl, result in found.items():
        op = _op(impl)
        if op is None or not impl.startswith("gaplib"):
            continue
        for column, field in columns.items():
            mine = getattr(result, field)
            if mine is None:
                continue
            rivals = {"eager": [], "compiled": []}
            for name, other in found.items():
                value = getattr(other, field)
                if _op(name) == op and value is not None and not name.startswith("gaplib"):
                    rivals["compiled" if name.startswith("compiled") else "eager"].append((name, 100 * value / copy))
            best = {k: max(v, key=lambda c: c[1]) if v else None for k, v in rivals.items()}
            cells[op, column] = RaceCell(100 * mine / copy, best["eager"], best["compiled"])
    return cells
