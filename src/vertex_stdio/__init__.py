"""vertex-stdio. Packages, top to bottom: app > desktop > vertexsms | bridge > oauth | mcpio > core (import contracts in pyproject.toml)."""

__version__ = "0.1.0"
