"""Command handlers: one module per capability, each a plain function per command."""
