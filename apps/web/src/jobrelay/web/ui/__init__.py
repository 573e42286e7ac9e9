"""The operator dashboard at ``/ui``: a static page over the JSON API, every asset in the package.

``router`` serves the page, its scripts and styles, and the sign-in that
turns ``JOBRELAY_API_TOKEN`` into a session cookie the API accepts.
"""

from .pages import router

__all__ = ["router"]
