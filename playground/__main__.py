"""``python -m playground`` and the ``playground`` launcher."""

import sys


def main() -> int:
    from playground.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
