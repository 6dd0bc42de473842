"""opensearch_dashboards.yml as data: the filter of the opensearch_dashboards role."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import (  # noqa: E402
    opensearch_dashboards_config as odc,
)

config = odc.opensearch_dashboards_config
STACK = {"opensearch_url": "http://opensearch:9200", "https_with_security": True}


def test_without_security_plain_http_and_no_security_settings():
    out = config({**STACK, "username": ""})
    assert out == {
        "server.name": "opensearch-dashboards",
        "server.host": "0.0.0.0",
        "server.port": 5601,
        "opensearch.hosts": ["http://opensearch:9200"],
        "workspace.enabled": True,
        "uiSettings": {"overrides": {"home:useNewHomePage": True}},
    }
    assert not [key for key in out if key.startswith(("opensearch_security", "opensearch.ssl", "opensearch.user"))]


def test_with_security_https_login_by_environment_and_no_tenants():
    out = config({**STACK, "username": "admin", "verification_mode": "none"})
    assert out["opensearch.hosts"] == ["https://opensearch:9200"]
    assert out["opensearch.username"] == "admin"
    # The password is never in the file: OpenSearch Dashboards replaces ${VAR} when it reads it.
    assert out["opensearch.password"] == "${OSD_OPENSEARCH_PASSWORD}"
    assert out["opensearch.ssl.verificationMode"] == "none"
    assert out["opensearch.requestHeadersWhitelist"] == ["authorization", "securitytenant"]
    assert out["opensearch_security.multitenancy.enabled"] is False
    assert out["opensearch_security.cookie.secure"] is False
    assert out["workspace.enabled"] is True
    assert out["uiSettings"] == {"overrides": {"home:useNewHomePage": True}}


def test_another_opensearch_keeps_its_scheme_and_is_verified_in_full():
    out = config({"opensearch_url": "https://search.lan:9200/", "username": "osd", "password_env": "PW"})
    assert out["opensearch.hosts"] == ["https://search.lan:9200"]
    assert out["opensearch.ssl.verificationMode"] == "full"
    assert out["opensearch.password"] == "${PW}"
    out = config({"opensearch_url": "http://search.lan:9200", "username": "osd"})
    assert out["opensearch.hosts"] == ["http://search.lan:9200"] and "opensearch.ssl.verificationMode" not in out


def test_without_workspace_no_workspace_settings():
    out = config({**STACK, "workspace": "false"})
    assert "workspace.enabled" not in out and "uiSettings" not in out


def test_settings_replace_the_roles_own_and_the_order_is_fixed():
    out = config({**STACK, "username": "admin", "settings": {"server.name": "claude", "i18n.locale": "de"}})
    assert out["server.name"] == "claude" and out["i18n.locale"] == "de"
    keys = list(out)
    assert keys[:4] == ["server.name", "server.host", "server.port", "opensearch.hosts"]
    assert keys[-1] == "i18n.locale"
    assert list(config({**STACK, "username": "admin"})) == list(config({**STACK, "username": "admin"}))


def test_yaml_round_trip_keeps_the_reference_literal():
    text = yaml.safe_dump(config({**STACK, "username": "admin"}), sort_keys=False)
    assert yaml.safe_load(text)["opensearch.password"] == "${OSD_OPENSEARCH_PASSWORD}"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("x", "expects a dict of options"),
        ({**STACK, "colour": "red"}, "unknown option"),
        ({"opensearch_url": "opensearch:9200"}, "must be the base URL"),
        ({"opensearch_url": "http://opensearch:9200/path"}, "must be the base URL"),
        ({**STACK, "verification_mode": "strict"}, "verification_mode must be one of none, certificate, full"),
        ({**STACK, "workspace": "maybe"}, "workspace must be true or false"),
        ({**STACK, "settings": ["a"]}, "settings must be a dict"),
        ({**STACK, "username": "admin", "password_env": "bad name"}, "must be an environment variable name"),
        (
            {**STACK, "settings": {"opensearch_security.multitenancy.enabled": True}},
            "security plugin is off",
        ),
    ],
)
def test_bad_options_are_named(options, message):
    with pytest.raises(AnsibleFilterError, match=message):
        config(options)
