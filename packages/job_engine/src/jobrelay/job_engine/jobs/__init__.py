"""Built-in jobs, one subpackage per queue."""
