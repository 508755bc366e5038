"""A process that parses files for a cold index: `python -m reporlm.workspace.parse_worker`.

It reads pickled messages from stdin: the repository root, then batches of (path, language)
until its input ends, and writes one pickled list of results per batch to stdout (see
`index.parse_batch`). A plain subprocess rather than multiprocessing: a spawned
multiprocessing child re-imports the caller's `__main__`, which breaks scripts that have no
`if __name__ == "__main__"` guard.
"""

from __future__ import annotations

import pickle
import sys

from reporlm.workspace.index import parse_batch


def main() -> None:
    source, out = sys.stdin.buffer, sys.stdout.buffer
    try:
        root = pickle.load(source)
        while True:
            batch = pickle.load(source)
            pickle.dump(parse_batch(root, batch), out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
    except EOFError:  # no more batches (or the index gave up)
        return


if __name__ == "__main__":
    main()
