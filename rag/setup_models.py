"""Prepare the packaged models once after install (run by `make install`): nothing downloads."""

from __future__ import annotations

import sys


def main() -> int:
    from rag.index.embedder import PACKAGED, packaged_model_dir

    for name in PACKAGED:
        print(f"embedding model {name}: {packaged_model_dir(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
