"""The API's JSON parser: DRF's, with a nesting limit that answers 400 with a reason.

Python's JSON decoder recurses once per level: a body nested about a thousand levels deep raised
RecursionError, which DRF does not catch (a 500), and the depth at which it happened depended on
how deep the calling stack already was. Here any body nested deeper than MAX_JSON_DEPTH is the
same ParseError, whether the decoder got that far or not. The fast path (campaigns/ingest.py)
hands anything that could be that deep to this parser, so both answer alike.
"""
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# The API's bodies are flat objects; nothing legitimate comes near this.
MAX_JSON_DEPTH = 100
TOO_DEEP = f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels"


def may_be_too_deep(body: bytes) -> bool:
    """False if the body cannot be nested deeper than MAX_JSON_DEPTH: each level opens a bracket.
    Two scans in C, for the hot path."""
    return body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH


def is_too_deep(data: object) -> bool:
    """Whether parsed JSON nests deeper than MAX_JSON_DEPTH (a top-level object or list is 1)."""
    level, containers = 0, [data] if isinstance(data, (dict, list)) else []
    while containers:
        level += 1
        if level > MAX_JSON_DEPTH:
            return True
        containers = [child for container in containers
                      for child in (container.values() if isinstance(container, dict) else container)
                      if isinstance(child, (dict, list))]
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        if is_too_deep(data):
            raise ParseError(TOO_DEEP)
        return data
