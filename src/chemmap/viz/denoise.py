"""The figure of ``chemmap denoise``: the hold-out score of every method against its rank."""

from __future__ import annotations

__all__ = ["plot_denoise_scores"]


def plot_denoise_scores(
    ax, curves: dict[str, dict[int, float]], points: dict[str, float], *, floor: float, chosen: str
):
    """Hold-out score (mean squared error on held-out bands) against the rank of each linear
    denoiser (``curves``), a horizontal line for each other method (``points``), and the
    estimated noise variance (``floor``, about where a perfect denoiser would score).

    Parameters
    ----------
    ax : matplotlib Axes
    curves : dict
        Method → {rank: score}.
    points : dict
        Method → score (methods without a rank: the autoencoder).
    floor : float
        Mean noise variance of the bands.
    chosen : str
        The method the run applied (drawn thicker).
    """
    for name, scores in curves.items():
        ranks = sorted(scores)
        ax.plot(ranks, [scores[r] for r in ranks], lw=2.5 if name == chosen else 1.2, label=name.upper())
        best = min(scores, key=scores.get)
        ax.plot([best], [scores[best]], "o", color=ax.lines[-1].get_color())
    for name, score in points.items():
        ax.axhline(score, ls="-.", lw=2.5 if name == chosen else 1.2, color="tab:red", label=name)
    ax.axhline(floor, ls=":", color="0.4", label="estimated noise variance")
    ax.set_yscale("log")
    ax.set_xlabel("rank (components kept)")
    ax.set_ylabel("hold-out score (squared error on held-out bands)")
    ax.set_title(f"Hold-out score of each denoiser (chosen: {chosen})")
    ax.legend(fontsize=8)
