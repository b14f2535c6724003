"""Matplotlib figures rendered to base64 PNG data URLs (the report makes no network requests)."""

from __future__ import annotations

import base64
import io

import numpy as np

from unigap.files import encode_png
from unigap.vocab import BANDS


def to_data_url(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def png_data_url(image: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(encode_png(image)).decode()


def band_bars(series: dict[str, dict], title: str, ylabel: str) -> str | None:
    """Grouped bars per band with 95 % CI whiskers; series = {label: {band: entry}}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bands = [b for b in BANDS if any(b in s for s in series.values())]
    if not bands:
        return None
    fig, ax = plt.subplots(figsize=(5.2, 2.8))
    width = 0.8 / max(1, len(series))
    for k, (label, entries) in enumerate(series.items()):
        vals = [100 * (entries.get(b, {}).get("value") or 0) for b in bands]
        cis = [entries.get(b, {}).get("ci") or [None, None] for b in bands]
        err = np.array(
            [
                [v - 100 * (c[0] if c[0] is not None else v / 100), 100 * (c[1] if c[1] is not None else v / 100) - v]
                for v, c in zip(vals, cis)
            ]
        ).T
        ax.bar(np.arange(len(bands)) + k * width, vals, width, yerr=err, capsize=3, label=label)
    ax.set_xticks(np.arange(len(bands)) + width * (len(series) - 1) / 2, bands)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # never over a bar
    ax.spines[["top", "right"]].set_visible(False)
    return to_data_url(fig)


def line_plot(
    series: dict[str, tuple[list, list]], title: str, xlabel: str, ylabel: str, dashed: tuple[str, ...] = ()
) -> str | None:
    """Lines over x (training steps or epochs); series = {label: (xs, ys)}; labels in `dashed` are dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {k: v for k, v in series.items() if v[0]}
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(5.6, 2.9))
    for label, (xs, ys) in series.items():
        ax.plot(xs, ys, label=label, ls="--" if label in dashed else "-", lw=1.3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return to_data_url(fig)
