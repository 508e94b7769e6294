"""The review page's waveform picture: the take's envelope with the exported window shaded."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from speechrec import audio

POINTS = 600


def waveform_chart(samples: np.ndarray, sample_rate: int, clip_duration_s: float) -> alt.LayerChart:
    """An Altair chart of a take (mono float32) with the exported ``clip_duration_s`` window shaded
    (the loudest window, clicks and pops not counted: ``audio.word_window_start``)."""
    low, high = audio.envelope(samples, POINTS)
    times = np.arange(len(low)) * (len(samples) / max(len(low), 1)) / sample_rate
    wave = pd.DataFrame({"time_s": times, "low": low, "high": high})
    window = round(clip_duration_s * sample_rate)
    start = audio.word_window_start(samples, sample_rate, window) / sample_rate
    cut = pd.DataFrame({"start": [start], "end": [min(start + clip_duration_s, len(samples) / sample_rate)]})
    shade = alt.Chart(cut).mark_rect(opacity=0.15, color="#1f77b4").encode(x="start:Q", x2="end:Q")
    area = (
        alt.Chart(wave)
        .mark_area(color="#444")
        .encode(
            x=alt.X("time_s:Q", title="seconds"),
            y=alt.Y("low:Q", scale=alt.Scale(domain=[-1, 1]), title=None),
            y2="high:Q",
        )
    )
    return (shade + area).properties(height=140)
