"""PySpark + Delta batch jobs: pure DataFrame transforms plus thin entry points."""
