"""The garbage collector's settings for the service's long-lived processes (web and Celery workers).

A big answer, such as the delivery roll-up of a company with thousands of objectives, builds hundreds
of thousands of small objects. With CPython's defaults the collector runs every 700 allocations, and
each older-generation pass walks every object still alive, the code and settings loaded at start
included: measured on the benchmark's largest company, that was about a third of the roll-up's time,
and the share grew with the size of the answer. Almost none of those objects form reference cycles,
so reference counting frees them anyway.

``tune_collector`` is called once a process has loaded the service. It moves everything alive then
into the permanent generation, which no collection walks again (what a pre-forking server wants
anyway: untouched pages stay shared between its workers), and lets the youngest generation grow to
``GEN0_THRESHOLD`` objects before a collection. Cyclic garbage is still collected, a little later.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 10_000


def tune_collector() -> None:
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, GEN0_THRESHOLD), gen1, gen2)
