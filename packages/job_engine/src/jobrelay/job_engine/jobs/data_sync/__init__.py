"""Jobs of the data_sync queue."""
