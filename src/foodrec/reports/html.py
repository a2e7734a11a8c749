"""Self-contained HTML reports with embedded plots: one file, no network, opens anywhere.

Every report of foodrec (EDA, training, A/B, drift, stakeholder) is built with :class:`HtmlReport`.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> report = HtmlReport("Orders", subtitle="default synthetic city")
>>> report.section("Volume", "Orders per day, in the data's time zone (UTC).")
>>> fig, ax = plt.subplots(); _ = ax.plot([1, 2, 3])
>>> report.figure(fig, caption="Orders per day")
>>> report.table(__import__("pandas").DataFrame({"a": [1]}))
>>> report.render().startswith("<!DOCTYPE html>")
True
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import Any

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{margin-bottom:.1em} .subtitle{color:#666;margin-top:0}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:right}
th{background:#f5f5f5} td:first-child,th:first-child{text-align:left}
figure{margin:1em 0} figcaption{color:#555;font-size:.9em} img{max-width:100%}
.note{background:#f6f8fa;border-left:4px solid #888;padding:.5em 1em;margin:.8em 0}
.good{border-color:#2a7} .bad{border-color:#c33} .warn{border-color:#d90} .missing{color:#888;font-style:italic}
"""


class HtmlReport:
    """Collects sections, paragraphs, figures and tables; :meth:`write` saves one self-contained HTML file."""

    def __init__(self, title: str, subtitle: str = ""):
        self.title = title
        self.subtitle = subtitle
        self._parts: list[str] = []

    def section(self, title: str, text: str = "", anchor: str | None = None) -> None:
        """Start a section (an ``<h2>``), optionally with a paragraph of plain text."""
        ident = f' id="{html.escape(anchor)}"' if anchor else ""
        self._parts.append(f"<h2{ident}>{html.escape(title)}</h2>")
        if text:
            self.paragraph(text)

    def paragraph(self, text: str) -> None:
        """A paragraph of plain text (escaped)."""
        self._parts.append(f"<p>{html.escape(text)}</p>")

    def note(self, text: str, kind: str = "") -> None:
        """A highlighted box; ``kind`` is '', 'good', 'bad', 'warn' or 'missing'."""
        self._parts.append(f'<div class="note {html.escape(kind)}">{html.escape(text)}</div>')

    def raw(self, markup: str) -> None:
        """Trusted HTML produced by foodrec itself (never user data)."""
        self._parts.append(markup)

    def figure(self, fig: Any, caption: str = "", close: bool = True) -> None:
        """Embed a matplotlib figure as a PNG data URI."""
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
        if close:
            import matplotlib.pyplot as plt

            plt.close(fig)
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        alt = html.escape(caption or "figure")
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">{cap}</figure>')

    def table(self, frame: Any, caption: str = "", float_format: str = "{:,.3f}", max_rows: int = 50) -> None:
        """Embed a pandas DataFrame (first ``max_rows`` rows) as an HTML table."""
        shown = frame.head(max_rows)
        formatters = {c: float_format.format for c in shown.columns if shown[c].dtype.kind == "f"}
        markup = shown.to_html(index=False, border=0, escape=True, formatters=formatters, na_rep="—")
        cap = f'<p class="subtitle">{html.escape(caption)}</p>' if caption else ""
        self._parts.append(cap + markup)

    def render(self) -> str:
        sub = f'<p class="subtitle">{html.escape(self.subtitle)}</p>' if self.subtitle else ""
        body = "\n".join(self._parts)
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{html.escape(self.title)}</h1>{sub}\n{body}\n</body></html>\n"
        )

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the report atomically and return its path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(self.render(), encoding="utf-8")
        os.replace(tmp, target)
        return target
