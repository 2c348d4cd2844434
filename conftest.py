"""Registers the shared test support (testsupport/plugin.py) for every test."""
pytest_plugins = ["testsupport.plugin"]
