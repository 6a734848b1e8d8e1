#!/usr/bin/env python3
"""Draws docs/bench.png from target/bench/results.json (and target/bench/profile.json when
`make bench-profile` has run). The only part of the bench that needs matplotlib
(`pip install matplotlib`); benches/run.py calls it when matplotlib is there."""

import json
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from common import DOCS_DIR, OUT_DIR  # noqa: E402

VARIANTS = {
    "crate": ("(a) crate", "#7f7f7f"),
    "rust": ("(b) Rust API", "#1f77b4"),
    "c": ("(c) C ABI", "#ff7f0e"),
    "python": ("(d) Python", "#2ca02c"),
}


def relative_times(axis, exchanges):
    """S1 and S3: each variant's median over the crate's, with the targets drawn in."""
    scenarios = ["S1", "S3"]
    width = 0.8 / len(VARIANTS)
    for index, (variant, (name, color)) in enumerate(VARIANTS.items()):
        heights, errors = [], []
        for key in scenarios:
            summary = exchanges[key]["variants"][variant]
            base = exchanges[key]["variants"]["crate"]["median_s"]
            heights.append(summary["median_s"] / base)
            errors.append((summary["q3_s"] - summary["q1_s"]) / 2 / base)
        positions = [s + (index - (len(VARIANTS) - 1) / 2) * width for s in range(len(scenarios))]
        axis.bar(positions, heights, width, yerr=errors, color=color, label=name, capsize=2)
    # The engine's targets: S1 at most 0.30 of the crate's time, S3 at most 0.50.
    for position, limit in enumerate((0.30, 0.50)):
        axis.hlines(limit, position - 0.45, position + 0.45, color="black", linestyle="--",
                    linewidth=0.8)
        axis.text(position + 0.45, limit, f" target {limit:.2f}", va="center", fontsize=7)
    short = {
        "S1": "S1: 1M items a side,\n10,000 differences",
        "S3": "S3: 10k items a side,\n10 differences",
    }
    axis.set_xticks(range(len(scenarios)), [short[key] for key in scenarios])
    axis.set_ylabel("time / crate's time (median)")
    axis.set_ylim(0, max(1.15, axis.get_ylim()[1]))
    axis.set_title("Whole exchange, relative to the crate (lower is better)")
    axis.legend(fontsize=7, loc="upper left")


def frame_limits(axis, exchanges):
    keys = ["S1", "S2 60,000", "S2 4,096"]
    labels = ["no limit", "60,000 B", "4,096 B"]
    width = 0.8 / len(VARIANTS)
    for index, (variant, (name, color)) in enumerate(VARIANTS.items()):
        heights = [exchanges[key]["variants"][variant]["median_s"] * 1e3 for key in keys]
        positions = [s + (index - (len(VARIANTS) - 1) / 2) * width for s in range(len(keys))]
        axis.bar(positions, heights, width, color=color, label=name)
    trips = [exchanges[key]["variants"]["crate"]["round_trips"] for key in keys]
    axis.set_xticks(
        range(len(keys)), [f"{label}\n{count:,} round trips" for label, count in zip(labels, trips)]
    )
    axis.set_yscale("log")
    axis.set_ylabel("ms (median, log scale)")
    axis.set_title("1M items a side, 10,000 differences: frame limits")


def set_building(axis, builds):
    rows = [
        ("rust insert_many", "Rust insert_many"),
        ("c insert_many", "C insert_many"),
        ("python insert_many", "Python insert_many"),
        ("crate insert_many", "crate insert + seal"),
        ("c insert_loop", "C insert loop"),
        ("python insert_loop", "Python insert loop"),
    ]
    values = [builds[key]["median_s"] * 1e3 for key, _ in rows]
    axis.barh(
        range(len(rows)),
        values,
        color=["#1f77b4", "#ff7f0e", "#2ca02c", "#7f7f7f", "#ffbb78", "#98df8a"],
    )
    axis.set_yticks(range(len(rows)), [label for _, label in rows])
    axis.invert_yaxis()
    axis.set_xscale("log")
    for row, value in enumerate(values):
        axis.text(value, row, f" {value:,.0f} ms", va="center", fontsize=7)
    axis.set_xlabel("ms to build and seal a 1,000,000-item set (median, log scale)")
    axis.set_title("S4: set building")


def instruction_breakdown(axis, profile):
    """Each exchange's instructions as 100%, split by what they do; the total above each bar."""
    if profile is None:
        axis.text(
            0.5, 0.5, "no instruction profile:\nrun `make bench-profile`", ha="center", va="center"
        )
        axis.set_axis_off()
        return
    labels = list(profile["breakdowns"])
    groups = list(next(iter(profile["breakdowns"].values()))["groups"])
    totals = [sum(profile["breakdowns"][label]["groups"].values()) for label in labels]
    colors = plt.get_cmap("tab20").colors
    bottoms = [0.0] * len(labels)
    for index, group in enumerate(groups):
        shares = [
            100.0 * profile["breakdowns"][label]["groups"][group] / total
            for label, total in zip(labels, totals)
        ]
        axis.bar(
            range(len(labels)),
            shares,
            0.5,
            bottom=bottoms,
            color=colors[index % len(colors)],
            label=group.split(" (")[0],  # the full names are in docs/bench.md
        )
        bottoms = [bottom + share for bottom, share in zip(bottoms, shares)]
    for position, total in enumerate(totals):
        axis.text(position, 101, f"{total / 1e9:.2f} G instr.", ha="center", fontsize=8)
    axis.set_xticks(range(len(labels)), labels)
    axis.set_xlim(-0.5, len(labels) + 2.4)  # room for the legend on the right
    axis.set_ylim(0, 108)
    axis.set_ylabel("share of one exchange's instructions (%)")
    axis.set_title("Where negsync's instructions go (callgrind, Rust API)")
    axis.legend(fontsize=6, loc="center right")


def main():
    results = json.loads((OUT_DIR / "results.json").read_text())
    profile_file = OUT_DIR / "profile.json"
    profile = json.loads(profile_file.read_text()) if profile_file.exists() else None
    figure, axes = plt.subplots(2, 2, figsize=(15, 10))
    relative_times(axes[0][0], results["exchanges"])
    frame_limits(axes[0][1], results["exchanges"])
    set_building(axes[1][0], results["builds"])
    instruction_breakdown(axes[1][1], profile)
    info = results["machine"]
    figure.suptitle(
        f"negsync benchmarks: {info['cpu']}, {info['cores']} cores, {info['rustc']} ({info['date']})",
        fontsize=11,
    )
    figure.tight_layout()
    DOCS_DIR.mkdir(exist_ok=True)
    figure.savefig(DOCS_DIR / "bench.png", dpi=110)
    print(f"plot: wrote {DOCS_DIR / 'bench.png'}", file=sys.stderr)


if __name__ == "__main__":
    main()
