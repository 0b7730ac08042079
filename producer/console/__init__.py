"""The web console: a page to manage templates and task flows, upload videos and watch tasks."""

from .app import create_console, mount_console

__all__ = ["create_console", "mount_console"]
