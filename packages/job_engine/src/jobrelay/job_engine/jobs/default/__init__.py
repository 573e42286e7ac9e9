"""Jobs of the default queue."""
