"""qorch: an event-sourced service that runs quantum circuits on QPUs and simulators."""

__version__ = "0.1.0"
