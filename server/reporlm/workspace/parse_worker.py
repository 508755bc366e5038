"""A process that parses files for a cold index: `python -m reporlm.workspace.parse_worker`.

It reads one pickled `(root, batches)` from stdin and writes one pickled list of results per
batch to stdout (see `index.parse_batch`). A plain subprocess rather than multiprocessing: a
spawned multiprocessing child re-imports the caller's `__main__`, which breaks scripts that
have no `if __name__ == "__main__"` guard.
"""

from __future__ import annotations

import pickle
import sys

from reporlm.workspace.index import parse_batch


def main() -> None:
    root, batches = pickle.load(sys.stdin.buffer)
    out = sys.stdout.buffer
    for batch in batches:
        pickle.dump(parse_batch(root, batch), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


if __name__ == "__main__":
    main()
