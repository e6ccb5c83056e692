"""`python -m eval.bench [OPTIONS]`: the same as `rag bench [OPTIONS]`."""

import sys

import typer

from cli.bench import bench_command
from rag.errors import RagError


def main() -> int:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(bench_command)
    try:
        app(args=sys.argv[1:], prog_name="python -m eval.bench")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except RagError as exc:
        print(f"rag bench: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
