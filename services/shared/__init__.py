"""Plumbing every service shares: settings fragments, connections, migrations, logging.

No domain rules live here.
"""
