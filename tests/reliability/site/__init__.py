"""A small Django project served by real servers (waitress, uvicorn, gunicorn) in subprocesses.

Each request fires the custom ``probe`` signal with its own ``request_number`` (recorded through
``RECORD_KWARGS``), so every exported span can be tied to the request it belongs to.
"""
