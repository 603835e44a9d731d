#!/usr/bin/env python3
"""Generates migemu's C++ QAPI code from a schema; see scripts/qapi/ and docs/qapi.md."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from qapi.main import main  # noqa: E402  (needs the path set above)

if __name__ == '__main__':
    sys.exit(main())
