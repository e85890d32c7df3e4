"""Domain model and services of the loyalty programme.

Plain functions over a SQLAlchemy ``Session``: no Flask, so the web app, the
workers and the CLI share exactly the same code paths.
"""
