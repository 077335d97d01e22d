"""Headless matplotlib for every report plot: the Agg backend (no display on a cluster node) and one way to
write a figure."""


def pyplot():
    """matplotlib.pyplot on the Agg backend (imported lazily: plotting is optional at run time)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path, dpi: int = 110) -> None:
    """Lays the figure out, writes it to `path` and frees it."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
