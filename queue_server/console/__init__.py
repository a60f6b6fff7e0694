"""The managers' web console served at /manage: sessions, same-origin guard, pages and their local assets.

Import ``queue_server.console.pages`` for the routes; this package's root stays empty so that
``queue_server.api.auth`` can use the session table without importing the routes (which import it).
"""
