"""A subset of Savina (Imam & Sarkar, "Savina - An Actor Benchmark Suite", AGERE! 2014).

One module per benchmark, each with an actorkit, a pykka and a Thespian implementation that
follow the paper's description and its reference (Akka) code, at parameters scaled down so a run
takes about a second. Every one reports wall time (lower is better) from the first actor created
until the benchmark's result is known; tearing the system down afterwards is not timed.
"""
