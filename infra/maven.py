"""Resolve a component's jars with Maven into a local folder.

Usage: ``python -m infra.maven POM DEST`` (the Makefile calls it). The folder is filled with
the runtime dependencies of POM and a ``.resolved`` stamp is written last, so an interrupted
run is redone rather than half-used.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from infra.errors import InfraError, ResolutionError
from infra.procs import require_executable

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
STAMP = ".resolved"


def resolve(pom: Path, dest: Path) -> list[Path]:
    """Copy the runtime dependencies of `pom` into `dest` and return the jar paths.

    Raises:
        ConfigurationError: `mvn` is not installed.
        ResolutionError: Maven failed; the message names the first error Maven reported.
    """
    mvn = require_executable(
        "mvn", "install Maven (apt-get install maven) so omnicx can resolve its jars"
    )
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(pom),
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={tmp.resolve()}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        output = proc.stdout + proc.stderr
        first = next(
            (
                line
                for line in output.splitlines()
                if "[ERROR]" in line and line.strip() != "[ERROR]"
            ),
            output.strip().splitlines()[-1] if output.strip() else "no output",
        )
        raise ResolutionError(
            f"Maven could not resolve {pom}: {first.replace('[ERROR]', '').strip()} "
            "-- check access to Maven Central (https://repo.maven.apache.org) or "
            "~/.m2/settings.xml, then run the command again",
            detail=output[-4000:],
        )
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    jars = sorted(dest.glob("*.jar"))
    (dest / STAMP).write_text("\n".join(j.name for j in jars) + "\n")
    return jars


def resolved_jars(dest: Path, what: str) -> list[Path]:
    """The jars in `dest`, or a ResolutionError telling the user how to resolve them."""
    if not (dest / STAMP).exists():
        raise ResolutionError(
            f"{what} jars are not resolved in {dest}: run 'make setup' (Maven fetches them once)"
        )
    return sorted(dest.glob("*.jar"))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m infra.maven POM DEST", file=sys.stderr)
        return 2
    pom, dest = Path(argv[0]), Path(argv[1])
    print(f"==> resolving {pom} with Maven into {dest}")
    try:
        jars = resolve(pom, dest)
    except InfraError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.detail:
            print(exc.detail, file=sys.stderr)
        return 1
    print(f"    {len(jars)} jars")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
