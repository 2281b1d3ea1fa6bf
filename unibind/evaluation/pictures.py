"""Pictures of the space: a t-SNE map coloured by class and marked by modality, and retrieval grids.

Both are written (matplotlib, Agg backend, atomically) so the HTML report can
embed them and a terminal user can open them: PNG for the map, JPEG when the
grid's name ends in ``.jpg`` (photos compress ~10x better).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

MARKERS = {"image": "o", "audio": "^", "text": "*", "video": "s", "pointcloud": "D", "thermal": "P",
           "event": "X", "depth": "v"}


def tsne_2d(vectors: torch.Tensor, *, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE of unit vectors with cosine distances (perplexity capped for small sets).

    Small sets use the exact gradient: Barnes-Hut's OpenMP loop has a fixed
    per-iteration cost that dominates below a few hundred points on a busy machine.
    """
    from sklearn.manifold import TSNE

    data = vectors.detach().float().cpu().numpy()
    if len(data) < 3:
        raise ValueError("t-SNE needs at least 3 points")
    perplexity = min(perplexity, (len(data) - 1) / 3)
    method = "exact" if len(data) < 300 else "barnes_hut"
    return TSNE(n_components=2, metric="cosine", init="pca", perplexity=perplexity, method=method,
                random_state=seed).fit_transform(data)


def plot_projection(points: np.ndarray, labels: Sequence[str], modalities: Sequence[str], path: str | Path, *,
                    title: str = "") -> Path:
    """Scatter ``points`` ``[N, 2]``: colour = class, marker = modality; text points drawn large."""
    plt = _pyplot()
    classes = sorted(set(labels))
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    fig, ax = plt.subplots(figsize=(7.5, 6), dpi=110)
    labels_arr, mods_arr = np.asarray(labels), np.asarray(modalities)
    for modality in sorted(set(modalities)):
        for c, name in enumerate(classes):
            keep = (labels_arr == name) & (mods_arr == modality)
            if keep.any():
                ax.scatter(points[keep, 0], points[keep, 1], s=160 if modality == "text" else 14,
                           marker=MARKERS.get(modality, "o"), color=cmap(c % cmap.N),
                           edgecolors="black" if modality == "text" else "none", linewidths=0.6, alpha=0.85)
    # 17+ colours are hard to tell apart: name each class at the middle of its points as well
    import matplotlib.patheffects as effects

    for c, name in enumerate(classes):
        keep = labels_arr == name
        x, y = np.median(points[keep, 0]), np.median(points[keep, 1])
        ax.text(x, y, name, fontsize=7, ha="center", va="center", color=cmap(c % cmap.N), weight="bold",
                path_effects=[effects.withStroke(linewidth=2.5, foreground="white")])
    handles = [plt.Line2D([], [], linestyle="", marker="s", color=cmap(c % cmap.N), label=n)
               for c, n in enumerate(classes)]
    handles += [plt.Line2D([], [], linestyle="", marker=MARKERS.get(m, "o"), color="grey", label=m)
                for m in sorted(set(modalities))]
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_retrieval_grid(queries: Sequence[str], results: Sequence[Sequence[dict[str, Any]]], path: str | Path, *,
                        title: str = "") -> Path:
    """One row per query: its top items, each ``{"item", "modality", "label", "name", "hit"}``.

    Pictures (PIL images or image files) are drawn; other modalities are a
    tile naming the modality and file. A green frame marks a correct class.
    """
    plt = _pyplot()
    cols = max((len(r) for r in results), default=1)
    fig, axes = plt.subplots(len(queries), cols, figsize=(1.9 * cols + 1.8, 2.2 * len(queries)), dpi=100,
                             squeeze=False)
    for row, (query, found) in enumerate(zip(queries, results)):
        for col in range(cols):
            ax = axes[row][col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(query.replace(": ", ":\n", 1), fontsize=11, rotation=0, ha="right", va="center")
            if col >= len(found):
                ax.axis("off")
                continue
            hit = found[col]
            picture = _thumbnail(hit["item"]) if hit["modality"] == "image" else None
            if picture is not None:
                ax.imshow(picture)
            else:
                ax.text(0.5, 0.5, f"{hit['modality']}\n{hit['name'][:14]}", ha="center", va="center", fontsize=10)
                ax.set_facecolor("#eef")
            for spine in ax.spines.values():
                spine.set_edgecolor("#2a2" if hit["hit"] else "#c22")
                spine.set_linewidth(2.5)
            ax.set_title(f"{hit['label']}\n({hit['modality']})", fontsize=10)
    fig.suptitle(title, fontsize=12)
    return _save(fig, path)


def _thumbnail(item: Any) -> np.ndarray | None:
    from PIL import Image

    try:
        picture = item if isinstance(item, Image.Image) else Image.open(item)
        picture = picture.convert("RGBA")
        background = Image.new("RGBA", picture.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(background, picture).convert("RGB")
        picture.thumbnail((160, 160))
        return np.asarray(picture)
    except Exception:  # noqa: BLE001 - an unreadable picture becomes a text tile, not a failed report
        return None


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    from unibind.atomic import save_figure

    fig.tight_layout()
    try:
        return save_figure(fig, path, dpi=fig.dpi)
    finally:
        _pyplot().close(fig)
