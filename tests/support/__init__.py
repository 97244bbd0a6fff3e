"""Helpers shared by test suites (no pytest plugins): see ``tests.support.server``."""
