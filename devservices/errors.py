"""Errors raised while installing, starting or stopping a development service."""


class DevServiceError(RuntimeError):
    """Base class of every devservices failure."""


class ToolNotFoundError(DevServiceError):
    """A program the service needs (java, mvn, initdb, ...) is not installed."""


class ServiceStartError(DevServiceError):
    """A service did not come up and answer within its time limit."""


class ServiceStopError(DevServiceError):
    """A service did not shut down."""
