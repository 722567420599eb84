#!/usr/bin/env python
"""Export a model to ONNX: `python export.py model.pth -o model.onnx` (same options as `fasttx export`)."""

import sys

from fasttx.cli import main

if __name__ == "__main__":
    sys.argv[1:1] = ["export"]
    main()
