"""``python -m vertex_stdio`` is the same program as the ``vertex-stdio`` command."""

from vertex_stdio.app.cli import run

if __name__ == "__main__":
    run()
