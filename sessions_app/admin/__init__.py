"""The coaches' admin: members (list, page, actions, export) and the dashboard on the index.

Every page reads D1 in a fixed number of requests whatever the number of rows; see
``pages`` for what each page reads and ``roles`` for who sees which members.
"""

from .members import SessionAdmin

__all__ = ["SessionAdmin"]
