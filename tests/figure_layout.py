"""Checks that a matplotlib figure hides nothing from its reader.

Used by ``test_examples.py`` inside the process that ran a gallery example,
on the figures it left open: the ones sphinx-gallery saves.
"""

from itertools import combinations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.text import Text
from matplotlib.transforms import Bbox


def _draw(figure):
    """Draw ``figure`` with Agg, as sphinx-gallery saves it; return the renderer."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return canvas.get_renderer()


def _text_box(text, renderer):
    """Display box of a text and of its background box, without an annotation's arrow."""
    box = Text.get_window_extent(text, renderer)
    patch = text.get_bbox_patch()
    if patch is not None:
        box = Bbox.union([box, patch.get_window_extent(renderer)])
    return box


def layout_problems(figure):
    """What a reader of ``figure`` cannot see: overlapping texts, covered data."""
    renderer = _draw(figure)
    problems = []
    for ax_index, ax in enumerate(figure.axes):
        where = f"axes {ax_index} ({ax.get_title() or 'untitled'!r})"
        texts = [t for t in ax.texts if t.get_visible() and t.get_text().strip()]
        boxes = {t.get_text(): _text_box(t, renderer) for t in texts}
        for (a, box_a), (b, box_b) in combinations(boxes.items(), 2):
            if box_a.overlaps(box_b):
                problems.append(f"{where}: texts {a!r} and {b!r} overlap")

        legends = [ax.get_legend(), *figure.legends]
        for legend in filter(None, legends):
            # Only the part of the legend over the axes can hide its data.
            covered = Bbox.intersection(legend.get_window_extent(renderer), ax.bbox)
            if covered is None:
                continue
            for line in ax.lines:
                if not line.get_visible():
                    continue
                path = line.get_transform().transform_path(line.get_path())
                if line.get_linestyle() in ("None", "none", "", " "):
                    hit = covered.count_contains(path.vertices) > 0
                else:
                    hit = path.intersects_bbox(covered, filled=False)
                if hit:
                    problems.append(f"{where}: the legend covers line {line.get_label()!r}")
            for points in ax.collections:
                if isinstance(points, PathCollection) and points.get_visible():
                    xy = points.get_offset_transform().transform(points.get_offsets())
                    n = covered.count_contains(xy)
                    if n:
                        problems.append(f"{where}: the legend covers {n} points of "
                                        f"{points.get_label()!r}")
            for name, box in boxes.items():
                if box.overlaps(covered):
                    problems.append(f"{where}: the legend covers the text {name!r}")
    return problems
