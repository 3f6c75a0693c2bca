"""The parameter policy end to end on the translated path: a client body in one dialect,
decoded, put through `encode_with_policy` for a provider of another type, compared with the
upstream body and the dropped / emulated report each golden vector in tests/vectors/policy/
expects (or the error it expects)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from unigate import errors
from unigate.codecs.registry import FORMATS, ClientOptions
from unigate.config import Destination, EndpointConfig, ProviderConfig
from unigate.providers import build_provider
from unigate.server.translate import encode_with_policy

VECTORS = Path(__file__).parents[1] / "vectors" / "policy"
FILES = sorted(VECTORS.glob("*.json"))


def _translate(v: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    client = FORMATS[v["client"]]
    opts = ClientOptions(**v.get("options", {}))
    ir = client.decode_request(v["input"], opts)
    provider = build_provider(ProviderConfig("p", v["provider"], "http://127.0.0.1:9"))
    target = FORMATS[provider.formats[0]]
    endpoint = EndpointConfig("ep", [Destination("p", v["model"])],
                              unsupported_parameters=v.get("unsupported_parameters", "refuse"))
    body = encode_with_policy(ir, client, target, endpoint, v["model"], provider)
    return body, ir.report


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_policy_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    if "raises" in v:
        with pytest.raises(getattr(errors, v["raises"])) as info:
            _translate(v)
        assert v["error_contains"] in str(info.value)
        return
    body, report = _translate(v)
    assert report.dropped == v["dropped"]
    assert report.emulated == v["emulated"]
    for key, value in v.get("expected", {}).items():  # the upstream fields the rule is about
        assert body.get(key) == value, key
    for key in v.get("absent", []):
        assert key not in body, key
