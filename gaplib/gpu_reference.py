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
        copy_tb_s=3.04,
        source="benchmarks/reference/h100_gpu_pool.md",
        commit="d4e1b27",
        date="2026-12-08",
        cases={
            ((256, 2048, 7, 7), "fp32", "NCHW"): {
                "copy, same bytes": (70.8, 96.0, None, None, None, None),
                "zero_(), same bytes written": (33.1, 102.0, None, None, None, None),
                "x.mean((2,3))": (121.7, 28.0, None, None, 63.2, 55.0),
                "nn.AdaptiveAvgPool2d(1)": (122.0, 28.0, None, None, 63.4, 55.0),
                "gaplib gap": (36.3, 95.0, None, None, 38.2, 90.0),
                "x.amax((2,3))": (136.9, 25.0, 137.0, 25.0, 412.2, 8.0),
                "nn.AdaptiveMaxPool2d(1)": (747.4, 5.0, 746.6, 5.0, 351.1, 10.0),
                "gaplib gmp": (36.2, 95.0, 36.8, 94.0, 40.3, 86.0),
                "fastai AdaptiveConcatPool2d": (871.4, 4.0, 871.1, 4.0, 519.1, 7.0),
                "cat(x.amax, x.mean)": (261.1, 13.0, 261.2, 13.0, 576.8, 6.0),
                "gaplib concat_pool": (34.8, 101.0, 35.1, 100.0, 41.6, 85.0),
                "compiled x.mean((2,3))": (50.2, 69.0, None, None, 33.2, 104.0),
                "compiled x.amax((2,3))": (50.5, 68.0, 60.1, 57.0, 79.5, 43.0),
                "compiled cat(x.amax, x.mean)": (81.3, 43.0, 93.8, 38.0, 85.9, 41.0),
            },
            ((256, 2048, 7, 7), "bf16", "NCHW"): {
                "copy, same bytes": (36.0, 94.0, None, None, None, None),
                "zero_(), same bytes written": (17.3, 98.0, None, None, None, None),
                "x.mean((2,3))": (115.6, 15.0, None, None, 44.2, 39.0),
                "nn.AdaptiveAvgPool2d(1)": (116.4, 15.0, None, None, 44.8, 39.0),
                "gaplib gap": (19.3, 90.0, None, None, 20.1, 86.0),
                "x.amax((2,3))": (161.1, 11.0, 161.2, 11.0, 409.9, 4.0),
                "nn.AdaptiveMaxPool2d(1)": (739.5, 2.0, 738.6, 2.0, 341.5, 5.0),
                "gaplib gmp": (19.9, 87.0, 22.7, 76.0, 19.3, 89.0),
                "fastai AdaptiveConcatPool2d": (857.2, 2.0, 857.2, 2.0, 450.1, 4.0),
                "cat(x.amax, x.mean)": (278.1, 6.0, 279.2, 6.0, 515.2, 3.0),
                "gaplib concat_pool": (19.9, 89.0, 20.6, 85.0, 20.2, 87.0),
                "compiled x.mean((2,3))": (46.3, 37.0, None, None, 17.4, 99.0),
                "compiled x.amax((2,3))": (50.8, 34.0, 59.4, 29.0, 78.5, 22.0),
                "compiled cat(x.amax, x.mean)": (80.5, 22.0, 94.3, 19.0, 79.7, 22.0),
            },
            ((256, 2048, 7, 7), "fp32", "channels_last"): {
                "copy, same bytes": (71.0, 95.0, None, None, None, None),
                "zero_(), same bytes written": (32.9, 103.0, None, None, None, None),
                "x.mean((2,3))": (39.4, 88.0, None, None, 63.3, 55.0),
                "nn.AdaptiveAvgPool2d(1)": (39.6, 87.0, None, None, 68.3, 51.0),
                "gaplib gap": (39.4, 88.0, None, None, 40.7, 85.0),
                "x.amax((2,3))": (39.5, 87.0, 39.5, 87.0, 370.8, 9.0),
                "nn.AdaptiveMaxPool2d(1)": (853.8, 4.0, 853.1, 4.0, 555.5, 6.0),
                "gaplib gmp": (39.6, 87.0, 94.8, 36.0, 43.2, 80.0),
                "fastai AdaptiveConcatPool2d": (896.5, 4.0, 896.3, 4.0, 766.1, 5.0),
                "cat(x.amax, x.mean)": (84.9, 41.0, 85.0, 41.0, 572.6, 6.0),
                "gaplib concat_pool": (85.4, 41.0, 154.5, 23.0, 46.4, 76.0),
                "compiled x.mean((2,3))": (51.3, 67.0, None, None, 32.9, 105.0),
                "compiled x.amax((2,3))": (50.5, 68.0, 66.6, 52.0, 88.8, 39.0),
                "compiled cat(x.amax, x.mean)": (95.6, 37.0, 109.9, 32.0, 96.7, 36.0),
            },
            ((256, 2048, 7, 7), "bf16", "channels_last"): {
                "copy, same bytes": (36.0, 94.0, None, None, None, None),
                "zero_(), same bytes written": (17.5, 97.0, None, None, None, None),
                "x.mean((2,3))": (21.0, 82.0, None, None, 44.6, 39.0),
                "nn.AdaptiveAvgPool2d(1)": (21.0, 82.0, None, None, 48.3, 36.0),
                "gaplib gap": (21.2, 81.0, None, None, 18.9, 91.0),
                "x.amax((2,3))": (25.6, 68.0, 25.6, 67.0, 370.1, 5.0),
                "nn.AdaptiveMaxPool2d(1)": (849.9, 2.0, 849.7, 2.0, 488.3, 4.0),
                "gaplib gmp": (25.5, 68.0, 48.7, 35.0, 21.0, 82.0),
                "fastai AdaptiveConcatPool2d": (876.3, 2.0, 876.3, 2.0, 661.0, 3.0),
                "cat(x.amax, x.mean)": (51.4, 34.0, 51.4, 34.0, 544.7, 3.0),
                "gaplib concat_pool": (51.1, 34.0, 68.1, 26.0, 22.0, 80.0),
                "compiled x.mean((2,3))": (55.6, 31.0, None, None, 17.7, 98.0),
                "compiled x.amax((2,3))": (59.7, 29.0, 63.3, 27.0, 86.6, 20.0),
                "compiled cat(x.amax, x.mean)": (97.0, 18.0, 111.2, 16.0, 90.3, 20.0),
            },
            ((128, 256, 32, 32), "fp32", "NCHW"): {
                "copy, same bytes": (92.4, 96.0, None, None, None, None),
                "zero_(), same bytes written": (42.9, 103.0, None, None, None, None),
                "x.mean((2,3))": (48.4, 91.0, None, None, 82.1, 54.0),
                "nn.AdaptiveAvgPool2d(1)": (48.2, 92.0, None, None, 82.2, 54.0),
                "gaplib gap": (44.4, 100.0, None, None, 43.8, 101.0),
                "x.amax((2,3))": (48.9, 91.0, 49.1, 90.0, 441.5, 10.0),
                "nn.AdaptiveMaxPool2d(1)": (596.1, 7.0, 595.9, 7.0, 63.8, 69.0),
                "gaplib gmp": (44.3, 100.0, 46.7, 95.0, 44.1, 100.0),
                "fastai AdaptiveConcatPool2d": (645.4, 7.0, 643.7, 7.0, 279.7, 16.0),
                "cat(x.amax, x.mean)": (98.4, 45.0, 98.4, 45.0, 653.3, 7.0),
                "gaplib concat_pool": (44.5, 100.0, 46.5, 95.0, 44.2, 100.0),
                "compiled x.mean((2,3))": (44.4, 100.0, None, None, 42.3, 105.0),
                "compiled x.amax((2,3))": (44.5, 99.0, 56.2, 79.0, 58.9, 75.0),
                "compiled cat(x.amax, x.mean)": (44.3, 100.0, 57.2, 77.0, 59.7, 74.0),
            },
            ((128, 256, 32, 32), "bf16", "NCHW"): {
                "copy, same bytes": (46.9, 94.0, None, None, None, None),
                "zero_(), same bytes written": (22.4, 99.0, None, None, None, None),
                "x.mean((2,3))": (27.3, 81.0, None, None, 57.7, 38.0),
                "nn.AdaptiveAvgPool2d(1)": (27.3, 81.0, None, None, 57.6, 38.0),
                "gaplib gap": (23.5, 94.0, None, None, 22.6, 98.0),
                "x.amax((2,3))": (32.3, 69.0, 32.3, 69.0, 441.5, 5.0),
                "nn.AdaptiveMaxPool2d(1)": (583.0, 4.0, 582.6, 4.0, 43.6, 51.0),
                "gaplib gmp": (23.5, 94.0, 50.4, 44.0, 23.3, 95.0),
                "fastai AdaptiveConcatPool2d": (612.7, 4.0, 612.3, 4.0, 185.0, 12.0),
                "cat(x.amax, x.mean)": (61.2, 36.0, 61.2, 36.0, 578.4, 4.0),
                "gaplib concat_pool": (26.0, 85.0, 55.4, 40.0, 23.6, 94.0),
                "compiled x.mean((2,3))": (23.1, 96.0, None, None, 22.3, 99.0),
            },
            ((128, 256, 32, 32), "fp32", "channels_last"): {
                "copy, same bytes": (92.5, 96.0, None, None, None, None),
                "zero_(), same bytes written": (42.8, 103.0, None, None, None, None),
                "x.mean((2,3))": (54.2, 82.0, None, None, 81.3, 54.0),
                "nn.AdaptiveAvgPool2d(1)": (53.8, 82.0, None, None, 84.4, 52.0),
                "gaplib gap": (50.3, 88.0, None, None, 44.2, 100.0),
                "x.amax((2,3))": (54.6, 81.0, 54.6, 81.0, 475.7, 9.0),
                "nn.AdaptiveMaxPool2d(1)": (866.7, 5.0, 866.7, 5.0, 328.5, 13.0),
                "gaplib gmp": (49.8, 89.0, 55.2, 80.0, 44.1, 100.0),
                "fastai AdaptiveConcatPool2d": (921.7, 5.0, 922.8, 5.0, 695.6, 6.0),
                "cat(x.amax, x.mean)": (114.4, 39.0, 114.2, 39.0, 837.3, 5.0),
                "gaplib concat_pool": (54.1, 82.0, 69.1, 64.0, 44.4, 100.0),
                "compiled x.mean((2,3))": (48.4, 91.0, None, None, 42.3, 105.0),
                "compiled x.amax((2,3))": (52.6, 84.0, 92.6, 48.0, 82.3, 54.0),
                "compiled cat(x.amax, x.mean)": (53.6, 83.0, 95.7, 46.0, 81.2, 55.0),
            },
            ((128, 256, 32, 32), "bf16", "channels_last"): {
                "copy, same bytes": (46.5, 95.0, None, None, None, None),
                "zero_(), same bytes written": (22.2, 100.0, None, None, None, None),
                "x.mean((2,3))": (33.6, 66.0, None, None, 56.9, 39.0),
                "nn.AdaptiveAvgPool2d(1)": (33.6, 66.0, None, None, 59.7, 37.0),
                "gaplib gap": (33.6, 66.0, None, None, 22.6, 98.0),
                "x.amax((2,3))": (43.7, 51.0, 43.8, 50.0, 475.6, 5.0),
                "nn.AdaptiveMaxPool2d(1)": (818.9, 3.0, 818.8, 3.0, 266.5, 8.0),
                "gaplib gmp": (33.4, 66.0, 42.3, 52.0, 23.1, 96.0),
                "fastai AdaptiveConcatPool2d": (855.8, 3.0, 855.7, 3.0, 591.6, 4.0),
                "cat(x.amax, x.mean)": (84.5, 26.0, 84.5, 26.0, 808.1, 3.0),
                "gaplib concat_pool": (42.8, 52.0, 55.7, 40.0, 23.2, 95.0),
                "compiled x.mean((2,3))": (26.2, 84.0, None, None, 22.3, 99.0),
            },
            ((64, 64, 112, 112), "fp32", "NCHW"): {
                "copy, same bytes": (138.7, 98.0, None, None, None, None),
                "zero_(), same bytes written": (63.9, 106.0, None, None, None, None),
                "x.mean((2,3))": (72.5, 93.0, None, None, 123.4, 55.0),
                "nn.AdaptiveAvgPool2d(1)": (72.4, 94.0, None, None, 123.5, 55.0),
                "gaplib gap": (69.4, 97.0, None, None, 67.8, 100.0),
                "x.amax((2,3))": (74.5, 91.0, 74.5, 91.0, 658.6, 10.0),
                "nn.AdaptiveMaxPool2d(1)": (1576.5, 4.0, 1574.4, 4.0, 68.0, 100.0),
                "gaplib gmp": (69.8, 97.0, 72.4, 93.0, 67.4, 100.0),
                "fastai AdaptiveConcatPool2d": (1650.1, 4.0, 1649.2, 4.0, 394.5, 17.0),
                "cat(x.amax, x.mean)": (147.9, 46.0, 148.0, 46.0, 981.5, 7.0),
                "gaplib concat_pool": (69.1, 98.0, 83.0, 82.0, 67.2, 101.0),
                "compiled x.mean((2,3))": (66.2, 102.0, None, None, 64.4, 105.0),
            },
            ((64, 64, 112, 112), "bf16", "NCHW"): {
                "copy, same bytes": (69.8, 97.0, None, None, None, None),
                "zero_(), same bytes written": (32.9, 103.0, None, None, None, None),
                "x.mean((2,3))": (44.5, 76.0, None, None, 86.0, 39.0),
                "nn.AdaptiveAvgPool2d(1)": (44.5, 76.0, None, None, 86.0, 39.0),
                "gaplib gap": (35.8, 95.0, None, None, 34.0, 99.0),
                "x.amax((2,3))": (52.3, 65.0, 52.3, 65.0, 658.1, 5.0),
                "nn.AdaptiveMaxPool2d(1)": (1576.2, 2.0, 1576.8, 2.0, 37.6, 90.0),
                "gaplib gmp": (36.9, 92.0, 53.4, 63.0, 34.3, 99.0),
                "fastai AdaptiveConcatPool2d": (1624.5, 2.0, 1625.1, 2.0, 249.5, 14.0),
                "cat(x.amax, x.mean)": (98.6, 34.0, 98.7, 34.0, 866.4, 4.0),
                "gaplib concat_pool": (41.8, 81.0, 58.8, 58.0, 34.4, 98.0),
                "compiled x.mean((2,3))": (33.7, 100.0, None, None, 32.8, 103.0),
            },
            ((64, 64, 112, 112), "fp32", "channels_last"): {
                "copy, same bytes": (138.7, 98.0, None, None, None, None),
                "zero_(), same bytes written": (63.9, 106.0, None, None, None, None),
                "x.mean((2,3))": (80.4, 84.0, None, None, 123.2, 55.0),
                "nn.AdaptiveAvgPool2d(1)": (80.7, 84.0, None, None, 126.6, 53.0),
                "gaplib gap": (71.0, 95.0, None, None, 66.1, 102.0),
                "x.amax((2,3))": (81.8, 83.0, 81.6, 83.0, 709.3, 10.0),
                "nn.AdaptiveMaxPool2d(1)": (1995.9, 3.0, 1992.4, 3.0, 338.4, 20.0),
                "gaplib gmp": (70.5, 96.0, 72.7, 93.0, 65.2, 104.0),
                "fastai AdaptiveConcatPool2d": (2075.4, 3.0, 2075.5, 3.0, 900.4, 8.0),
                "cat(x.amax, x.mean)": (166.3, 41.0, 166.5, 41.0, 1265.1, 5.0),
                "gaplib concat_pool": (72.9, 93.0, 95.8, 71.0, 65.4, 104.0),
                "compiled x.mean((2,3))": (70.2, 96.0, None, None, 63.9, 106.0),
            },
            ((64, 64, 112, 112), "bf16", "channels_last"): {
                "copy, same bytes": (70.0, 97.0, None, None, None, None),
                "zero_(), same bytes written": (33.0, 103.0, None, None, None, None),
                "x.mean((2,3))": (50.3, 67.0, None, None, 85.3, 40.0),
                "nn.AdaptiveAvgPool2d(1)": (49.7, 68.0, None, None, 88.2, 38.0),
                "gaplib gap": (38.1, 89.0, None, None, 33.6, 101.0),
                "x.amax((2,3))": (58.2, 58.0, 58.1, 58.0, 707.8, 5.0),
                "nn.AdaptiveMaxPool2d(1)": (1968.1, 2.0, 1968.1, 2.0, 265.9, 13.0),
                "gaplib gmp": (38.3, 88.0, 40.3, 84.0, 33.6, 101.0),
                "fastai AdaptiveConcatPool2d": (2020.6, 2.0, 2019.9, 2.0, 784.0, 4.0),
                "cat(x.amax, x.mean)": (115.0, 29.0, 115.3, 29.0, 1240.3, 3.0),
                "gaplib concat_pool": (40.0, 85.0, 42.2, 80.0, 34.2, 99.0),
                "compiled x.mean((2,3))": (39.4, 86.0, None, None, 32.9, 103.0),
                "compiled x.amax((2,3))": (39.1, 87.0, 92.9, 36.0, 96.1, 35.0),
                "compiled cat(x.amax, x.mean)": (44.3, 76.0, 98.2, 34.0, 89.2, 38.0),
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
