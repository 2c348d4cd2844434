"""Benchmarks, run from the repository root as modules: `.venv/bin/python -m bench.<name> --help`.
They import the project and the lab toolkit as packages (lab/), with no sys.path edits."""
