"""The self-contained ``report.html``: summary table, plots, contact sheet, problem frames.

Everything is inline (CSS, PNG plots and JPEG stills as ``data:`` URIs), so the page opens
offline and can be mailed as one file. A few lines of script check, when the page is opened in
a browser, that every image decoded, and say so at the bottom of the page.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

from facecast.quality.frames import FrameMetrics
from facecast.quality.plots import PLOTS, plot_png
from facecast.quality.stills import Still, jpeg_bytes, still_label

#: Problem frames listed in the page (all of them are in report.json).
MAX_PROBLEM_ROWS = 300

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:960px;color:#1d1d1f}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{padding:4px 8px;text-align:left;
border-bottom:1px solid #eee;vertical-align:top}th{background:#f5f5f7}
.pass{color:#146c2e;font-weight:600}.warn{color:#9a6700;font-weight:600}
.fail{color:#b42318;font-weight:600}.n\\/a{color:#888}
.banner{padding:10px 14px;border-radius:6px;margin:12px 0;font-size:15px}
.banner.pass{background:#e8f5ec}.banner.warn{background:#fff4d6}.banner.fail{background:#fde8e6}
.sheet{display:grid;grid-template-columns:repeat(3,1fr);gap:12px;margin-bottom:12px}
.pair{border:1px solid #ddd;border-radius:6px;padding:6px;font-size:12px}
.pair img{width:49%;display:inline-block}
.plot{width:100%;max-width:900px;display:block;margin:6px 0}.muted{color:#666;font-size:12px}
code{font-size:12px}
"""

_CHECK = """
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var failed = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  var note = document.getElementById('load-check');
  note.setAttribute('data-images', String(images.length));
  note.setAttribute('data-failed', String(failed.length));
  note.textContent = failed.length ? failed.length + ' of ' + images.length +
    ' images failed to load.' : 'All ' + images.length + ' images loaded.';
});
"""


def render_page(
    report: dict, frames: Sequence[FrameMetrics], stills: dict[str, list[Still]]
) -> str:
    """The whole HTML page as text.

    Parameters
    ----------
    report
        The report dictionary written to ``report.json`` (inputs, summary, thresholds...).
    frames
        The per-frame measurements (for the plots).
    stills
        ``{"worst": [...], "best": [...]}`` plate/output pairs for the contact sheet.
    """
    summary = report["summary"]
    title = f"facecast quality report: {_name(report['inputs']['output'])}"
    output_label = still_label(_name(report["inputs"]["output"]))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        _inputs(report["inputs"]),
        _banner(summary),
        "<h2>Summary</h2>",
        _metric_table(summary["metrics"]),
        _frame_counts(summary["frames"]),
        _notes(summary["notes"]),
        "<h2>Over time</h2>",
        '<p class="muted">Red bands: problem frames. Grey bands: no face in the plate.</p>',
        *(_image(plot_png(spec, frames), "image/png", spec.title, "plot") for spec in PLOTS),
        "<h2>Contact sheet: worst and best frames</h2>",
        _sheet("Worst", stills.get("worst", []), frames, output_label),
        _sheet("Best", stills.get("best", []), frames, output_label),
        "<h2>Problem frames</h2>",
        _problems(summary["problem_frames"]),
        f'<p class="muted" id="load-check" data-images="" data-failed="">'
        f"facecast {html.escape(report['facecast_version'])}. Open in a browser to check "
        f"that every image loads.</p>",
        f"<script>{_CHECK}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _inputs(inputs: dict) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(key)}</th><td><code>{html.escape(str(value))}</code></td></tr>"
        for key, value in inputs.items()
        if value is not None
    )
    return f"<table>{rows}</table>"


def _banner(summary: dict) -> str:
    status = summary["status"]
    verdicts = []
    for level in ("fail", "warn"):
        labels = [m["label"] for m in summary["metrics"] if m["status"] == level]
        if labels:
            verdicts.append(f"{level}: {', '.join(labels)}")
    detail = "; ".join(verdicts) or "every metric passes"
    return (
        f'<div class="banner {status}"><span class="{status}">{status.upper()}</span> '
        f"&mdash; {html.escape(detail)}<br>{html.escape(summary['identity']['text'])}</div>"
    )


def _metric_table(metrics: list[dict]) -> str:
    rows = []
    for m in metrics:
        rows.append(
            f'<tr><td title="{html.escape(m["meaning"])}">{html.escape(m["label"])}</td>'
            f"<td>{_format(m['value'], m['unit'])}</td>"
            f'<td class="muted">{m["frames"]}</td>'
            f'<td class="{m["status"]}">{m["status"]}</td>'
            f"<td>{html.escape(m['pass_if'])}</td><td>{html.escape(m['warn_if'])}</td>"
            f'<td class="muted">{html.escape(m["source"])}</td></tr>'
        )
    header = (
        "<tr><th>Metric</th><th>Value</th><th>Frames</th><th>Status</th><th>Pass if</th>"
        "<th>Warn if</th>"
        "<th>Threshold from</th></tr>"
    )
    return f"<table>{header}{''.join(rows)}</table>"


def _format(value: float | int | None, unit: str) -> str:
    if value is None:
        return '<span class="muted">not measured</span>'
    if unit == "%":
        return f"{100 * value:.1f}%"
    if unit == "frames":
        return str(value)
    return f"{value:.4g} {html.escape(unit)}"


def _frame_counts(counts: dict) -> str:
    text = ", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in counts.items())
    return f'<p class="muted">Frames &mdash; {html.escape(text)}</p>'


def _notes(notes: list[str]) -> str:
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f'<ul class="muted">{items}</ul>'


def _image(data: bytes, mime: str, alt: str, css: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img class="{css}" alt="{html.escape(alt)}" src="data:{mime};base64,{encoded}">'


def _sheet(
    label: str, stills: list[Still], frames: Sequence[FrameMetrics], output_label: str
) -> str:
    """The contact sheet's plate/output pairs; each output crop carries `output_label`."""
    if not stills:
        return f'<p class="muted">{label}: no measured frame.</p>'
    cells = []
    for still in stills:
        record = frames[still.index]
        caption = (
            f"{label} &middot; frame {record.index} &middot; {record.timecode}<br>"
            f"{html.escape(_frame_caption(record))}"
        )
        cells.append(
            f'<div class="pair">{_image(jpeg_bytes(still.plate), "image/jpeg", "plate", "")}'
            f"{_image(jpeg_bytes(still.output, label=output_label), 'image/jpeg', 'output', '')}"
            f"<br>plate | output<br>{caption}</div>"
        )
    return f'<div class="sheet">{"".join(cells)}</div>'


def _frame_caption(record: FrameMetrics) -> str:
    parts = []
    for label, value, fmt in (
        ("id dist", record.distance_to_character, ".2f"),
        ("pose", record.pose_error, ".1f"),
        ("tracking", record.pose_tracking_error, ".1f"),
        ("mouth", record.mouth_error, ".3f"),
        ("eyes", record.eye_error, ".3f"),
        ("seam ΔE", record.edge_de_excess, ".1f"),
    ):
        if value is not None:
            parts.append(f"{label} {value:{fmt}}")
    if record.problems:
        parts.append("problems: " + ", ".join(record.problems))
    return ", ".join(parts)


def _problems(rows: list[dict]) -> str:
    if not rows:
        return "<p>No problem frames.</p>"
    shown = rows[:MAX_PROBLEM_ROWS]
    body = "".join(
        f"<tr><td>{r['frame']}</td><td><code>{r['timecode']}</code></td>"
        f"<td>{html.escape(', '.join(r['problems']))}</td></tr>"
        for r in shown
    )
    more = (
        f'<p class="muted">{len(rows) - len(shown)} more in report.json.</p>'
        if len(rows) > len(shown)
        else ""
    )
    header = "<tr><th>Frame</th><th>Timecode</th><th>Problems</th></tr>"
    return f"<p>{len(rows)} problem frame(s).</p><table>{header}{body}</table>{more}"
