import os
import sys

# `python -m reporlm` put the working directory (often the repository asked about) first on
# sys.path: nothing imported from here on may come from it. (`-P` and the console script never
# put it there; reporlm starts its own processes with -P.)
if not sys.flags.safe_path and sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from reporlm.cli import main

sys.exit(main())
