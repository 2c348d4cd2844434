"""The laboratory: experiments, benchmarks' toolkit and the local stack that runs them.

Installed by the local and test settings only (INSTALLED_APPS there adds "lab"); the production
settings never list it, so nothing here can be served or imported by the product.
"""
