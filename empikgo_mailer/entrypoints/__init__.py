"""The doors: they turn the outside world into commands for the handlers."""
