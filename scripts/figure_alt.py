"""Kernel start-up file: every inline matplotlib figure gets alt text built from its titles, labels and legends.

`scripts/run_course.py` starts each notebook's kernel with `--IPKernelApp.exec_files=<this file>`; the text is
stored in the output's metadata (`"alt"`), and `scripts/build_site.py` writes it into the `<img alt="...">` of the
rendered page. It leaves nothing in the notebook's namespace.
"""


def _gapcourse_install_figure_alt() -> None:
    """Wrap matplotlib-inline's figure metadata so that it carries an `alt` description."""
    try:
        import matplotlib_inline.backend_inline as inline
    except ImportError:  # not an IPython kernel with matplotlib: nothing to describe
        return

    def clean(text: str) -> str:
        return " ".join(text.replace("$", "").split())

    def describe(fig) -> str | None:
        """'Figure: <suptitle>; plot of <y> against <x> (<title>; lines: a, b); 8 images titled ...'."""
        parts = []
        sup = getattr(fig, "_suptitle", None)
        if sup is not None and sup.get_text().strip():
            parts.append(clean(sup.get_text()))
        image_titles, n_images = [], 0
        for ax in fig.axes:
            if not ax.get_visible() or ax.get_label() == "<colorbar>":
                continue
            title, x, y = clean(ax.get_title()), clean(ax.get_xlabel()), clean(ax.get_ylabel())
            if ax.images and not x and not y:
                n_images += 1
                if title:
                    image_titles.append(title)
                continue
            what = "image" if ax.images else "plot"
            text = f"{what} of {y} against {x}" if x and y else f"{what} of {y or x}" if (x or y) else what
            extras = [title] if title else []
            legend = ax.get_legend()
            if legend is not None:
                labels = [clean(t.get_text()) for t in legend.get_texts() if t.get_text().strip()]
                if labels:
                    extras.append("legend: " + ", ".join(labels[:8]))
            parts.append(text + (f" ({'; '.join(extras)})" if extras else ""))
        if n_images:
            shown = ", ".join(image_titles[:12]) + (", ..." if len(image_titles) > 12 else "")
            parts.append(f"{n_images} image{'s' if n_images > 1 else ''}" + (f" titled {shown}" if shown else ""))
        return ("Figure: " + "; ".join(parts))[:600] if parts else None

    original = inline._fetch_figure_metadata

    def with_alt(fig):
        meta = dict(original(fig) or {})
        try:
            alt = describe(fig)
        except Exception:  # a description must never break a notebook
            alt = None
        if alt:
            meta["alt"] = alt
        return meta or None

    inline._fetch_figure_metadata = with_alt


_gapcourse_install_figure_alt()
del _gapcourse_install_figure_alt
