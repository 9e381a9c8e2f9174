"""Chronicle: an event-sourced CQRS backend on AWS serverless (see README.md and docs/architecture.md)."""

__version__ = "0.1.0"
