"""Every developer and CI task: ``nox -s tests``, ``lint``, ``typecheck``, ``docs``, ``bench``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"
LINTED = ["actorkit", "tests", "examples", "benchmarks", "noxfile.py"]


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite, examples included, in a fresh virtualenv."""
    session.install(".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff's checks and its formatter, on everything we write."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy, strict, on the package."""
    session.install("mypy>=1.11", ".[test]")
    session.run("mypy")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site in strict mode (warnings are errors)."""
    session.install(".", "mkdocs>=1.6", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """The benchmark suite: actorkit beside its baselines, as ratios in one run.

    ``nox -s bench -- --quick`` runs a short smoke version.
    """
    # The peers actorkit is measured against, in the same run: pykka (a thread per actor) and
    # Thespian (its single-threaded simpleSystemBase).
    session.install(".", "rich>=13", "matplotlib>=3.8", "pykka>=4.1", "thespian>=4.0")
    session.run("python", "-m", "benchmarks", *session.posargs)
