"""Processing state on Table Storage (dedupe, order checkpoints)."""
