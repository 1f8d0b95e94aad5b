"""The composition root's former name, kept for its importers: see qorch.bootstrap."""

from qorch.bootstrap import Service, open_application, open_executor, open_service

__all__ = ["Service", "open_application", "open_executor", "open_service"]
