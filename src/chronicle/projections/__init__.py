"""Read models, one module per model: each turns stored events into table writes, idempotently and in order."""
