import sys

from reporlm.cli import main

sys.exit(main())
