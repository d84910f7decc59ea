"""The coaches' admin: members (list, page, actions, export) and the dashboard on the index.

Every page reads D1 in a fixed number of requests whatever the number of rows; see
``pages`` for what each page reads and ``roles`` for who sees which members.
"""

from django.contrib import admin

from .members import SessionAdmin

# Coaches work in one app: the page width goes to the members list, not to a menu.
admin.site.enable_nav_sidebar = False
admin.site.site_header = admin.site.site_title = "coachbot"  # a name: the same in every language

__all__ = ["SessionAdmin"]
