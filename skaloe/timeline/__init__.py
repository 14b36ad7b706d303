"""From labels to a timeline: events in long recordings, their exports, their plot.

After labeling, a classifier predicts every window of every recording;
:func:`segments_to_events` and :func:`predict_events` merge consecutive windows
of one class into events, which are saved as CSV (:func:`write_events_csv`) or
as label tracks that audio editors open (:func:`write_audacity_labels`), and
drawn by :class:`TimelineDisplay`.

Nothing here reads audio or knows of encoders: a segment is a file path and
two times. matplotlib is imported only when a display draws, pandas only when
a table is returned.
"""

from ._events import predict_events, segments_to_events
from ._io import (
    read_audacity_labels,
    read_events_csv,
    write_audacity_labels,
    write_events_csv,
)
from ._plot import TimelineDisplay

__all__ = [
    "TimelineDisplay",
    "predict_events",
    "read_audacity_labels",
    "read_events_csv",
    "segments_to_events",
    "write_audacity_labels",
    "write_events_csv",
]
