"""Route modules: thin; they parse, call a service function, and map the result."""
