"""Route modules: ``health``, ``auth``, ``organisation``, ``sync``."""
