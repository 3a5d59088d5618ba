"""The ``enhancer`` command line (``app.main``)."""
