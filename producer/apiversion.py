"""The API version (``X-TC-Version``) the HTTP API answers and ``ApiClient`` sends, in a module
of its own so that the client can read it without loading the server."""

__all__ = ["API_VERSION"]

API_VERSION = "2018-07-17"
