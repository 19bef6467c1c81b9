"""argparse, made to report a mistake in one line rather than a usage dump."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"kubelite: {self.prog.removeprefix('kubelite ')}: {message}", file=sys.stderr)
        raise SystemExit(2)
