"""Video submission pieces behind ``ingress.routes.videos``."""
