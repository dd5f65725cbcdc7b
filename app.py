"""EchoLens entry point: serves the app (default) and runs headless subcommands.

The interactive app is not built yet; until it is, this prints a clear line and exits 0.
"""
import sys


def main(argv: list[str]) -> int:
    print("EchoLens: the interactive app is not built yet. "
          "The echo phantom works now: python -m echo.phantom --n 8 --out /tmp/phantom")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
