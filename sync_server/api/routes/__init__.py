"""Route modules: ``health``, ``auth``, ``organisation``, ``cases``, ``devices``, ``audit``, ``sync``."""
