"""The local runtime (`chronicle local`): see docs/local-runtime.md. Never shipped to Lambda."""
