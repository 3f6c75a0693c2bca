"""The gateway's own HTTP/1.1 server (see `protocol` for why it is not aiohttp's)."""

from unigate.server.http.application import Application, error_response
from unigate.server.http.request import Request
from unigate.server.http.response import AnyResponse, Response, StreamResponse, json_response
from unigate.server.http.router import Router
from unigate.server.http.server import HttpServer

__all__ = ["AnyResponse", "Application", "HttpServer", "Request", "Response", "Router", "StreamResponse",
           "error_response", "json_response"]
