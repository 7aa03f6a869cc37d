"""actorkit's benchmark suite: actorkit beside raw Trio, pykka and Thespian, as ratios in one run.

Run it with ``python -m benchmarks`` (or ``nox -s bench``); ``--quick`` is a short smoke run.
Each figure is the median of several runs, each in a fresh process (``benchmarks.run_one``).
Workloads live one per file in ``workloads/`` and ``savina/``; see ``registry.py`` to add one.
"""
