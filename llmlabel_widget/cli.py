"""The ``llmlabel-widget`` command: ``llmlabel-widget copy SRC DST`` moves a project between
a SQLite file and a PostgreSQL project (``postgresql://…?project=NAME``), either way.

The destination must be new; the source is only read. Every row keeps its sequence number,
so undo links, proposal links and the event order come across unchanged.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .store import StoreError, is_url, open_store
from .store.transfer import TABLES


def _shown(store: Any) -> str:
    return str(getattr(store, "url", store.path))  # a URL without its password


def copy(source: str, destination: str) -> dict[str, int]:
    """Copy the project at ``source`` into a new one at ``destination``; rows per table."""
    if not is_url(source) and not Path(source).is_file():
        raise StoreError(f"no store at {source}")
    if not is_url(destination) and Path(destination).exists():
        raise StoreError(f"{destination} exists: copy into a new file")
    src = open_store(source)
    try:
        if getattr(src, "created", False):
            src.remove_files()
            raise StoreError(f"{_shown(src)} holds no project to copy")
        dst = open_store(destination)
        try:
            if not getattr(dst, "created", True):
                raise StoreError(f"{_shown(dst)} exists already: copy into a new project")
            counts = {t: dst.load_rows(t, *src.table_rows(t)) for t in TABLES}
        except BaseException:
            dst.remove_files()
            raise
        finally:
            dst.close()
    finally:
        src.close()
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="llmlabel-widget", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    cp = commands.add_parser("copy", help="copy a project between SQLite and PostgreSQL")
    cp.add_argument("source", help="a .labels.db file or a postgresql://…?project=NAME URL")
    cp.add_argument("destination", help="a new file, or a new project's URL")
    args = parser.parse_args(argv)
    try:
        counts = copy(args.source, args.destination)
    except StoreError as exc:
        print(f"llmlabel-widget copy: {exc}", file=sys.stderr)
        return 1
    print(", ".join(f"{n:,} {t}" for t, n in counts.items() if n) + " copied")
    return 0


if __name__ == "__main__":
    sys.exit(main())
