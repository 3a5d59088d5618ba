"""The manual's "Procesamiento de Imágenes": request parsing, checks, documents and jobs."""
