"""The garbage collector's settings for the service's long-lived processes (web and Celery workers).

A big answer, such as the delivery roll-up of a company with thousands of objectives, builds hundreds
of thousands of small objects, and CPython's collector runs every 700 of them. Each pass of an older
generation walks every object still alive, including the tens of thousands of the code and settings
loaded at start: on the benchmark's largest company, that was about a third of the delivery roll-up's
time, and the share grew with the size of the answer.

``tune_collector`` is called once a process has loaded the service. It moves everything alive then
into the permanent generation, which no collection walks again; those objects live as long as the
process anyway, and a pre-forking server wants them left alone so that their pages stay shared.
The thresholds stay CPython's: a higher first threshold was as fast again, but cyclic garbage then
waits longer to be freed, and it raised a web worker's peak memory at L from 175 to 276 MiB.
"""

from __future__ import annotations

import gc


def tune_collector() -> None:
    gc.collect()
    gc.freeze()
