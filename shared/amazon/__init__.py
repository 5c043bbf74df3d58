"""Amazon Selling Partner API: notification parsing and the Orders connector (the only code that calls Amazon)."""
