"""``python -m fasctrack``: ``batch`` runs here (Dask); every other
subcommand is the C++ command line installed beside this interpreter."""
from __future__ import annotations

import os
import shutil
import sys
import sysconfig


def _cli() -> str:
    scripts = sysconfig.get_path("scripts")
    for candidate in (os.path.join(scripts, "fasctrack"), shutil.which("fasctrack")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError("the fasctrack command is not installed beside this Python "
                            f"({scripts}); reinstall the package with pip")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "batch":
        from .batch import main as batch_main
        return batch_main(argv[1:])
    try:
        cli = _cli()
    except FileNotFoundError as e:
        sys.stderr.write(f"fasctrack: error: {e}\n")
        return 2
    os.execv(cli, [cli] + argv)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
