"""``convcalc schema``: the JSON Schema of the spec format."""

from __future__ import annotations

from convcalc.cli._common import OutputOpt, write_output

__all__ = ["schema_command"]


def schema_command(output: OutputOpt = None) -> None:
    """Print the JSON Schema of the spec format (for editor completion)."""
    import json

    from convcalc.spec.schema import spec_json_schema

    write_output(json.dumps(spec_json_schema(), indent=2) + "\n", output)
