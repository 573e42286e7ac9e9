"""Jobs of the scheduled queue."""
