#!/usr/bin/env python
"""Train a style network: `python train.py --style painting.jpg --dataset photos/` (same options as `fasttx train`)."""

import sys

from fasttx.cli import main

if __name__ == "__main__":
    sys.argv[1:1] = ["train"]
    main()
