"""airlock-demo: the package airlock's demo pipeline releases."""

__version__ = "0.1.0"


def greet(name: str) -> str:
    """Return a greeting for ``name``."""
    return f"Hello, {name}: released by airlock."


def main() -> None:
    """Console entry point: print a greeting."""
    print(greet("world"))
