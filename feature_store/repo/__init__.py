"""The Feast feature repository (`feast -c feature_store/repo ...`).

Feast imports every `.py` file here as a top-level module (the repo directory is on its path),
so the files import each other by their bare names, as in Feast's own templates.
"""
