"""The staff API's JSON in and out, hardened against hostile input (issue #9; tests/hostile/test_staff_api.py).

In: DRF's parser, with a body nested too deep to decode answered as a 400 like any other malformed JSON (DRF
catches only ValueError; the json module raises RecursionError).
Out: DRF's renderer, with a lone surrogate (sent as a `\\udXXX` escape, echoed back in an error message such
as "… is not a valid choice") escaped as JSON allows instead of failing to encode as UTF-8 (a 500).
"""
from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None


class SafeJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:  # only a lone surrogate can do this: ASCII escapes carry it
            escaped = JSONRenderer()
            escaped.ensure_ascii = True
            return escaped.render(data, accepted_media_type, renderer_context)
