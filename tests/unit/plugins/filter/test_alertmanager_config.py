"""Alertmanager's configuration as data (plugins/filter/alertmanager_config.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import alertmanager_config as amc  # noqa: E402

pytestmark = pytest.mark.unit

EMAIL = {"email_to": "ops@example.org", "email_from": "am@example.org", "smtp_smarthost": "smtp.example.org:587"}


def test_no_receivers_keeps_alerts_in_the_ui():
    cfg = amc.alertmanager_config({})
    assert cfg["global"] == {}
    assert cfg["receivers"] == [{"name": "claude-code"}]
    assert cfg["route"] == {
        "receiver": "claude-code",
        "group_by": ["alertname", "user_id"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
    }
    assert list(cfg) == ["global", "route", "receivers"]


def test_every_channel_in_one_receiver_in_a_fixed_order():
    cfg = amc.alertmanager_config(
        {"webhook_urls": ["http://a/h", "http://b/h"], "discord_webhook_url": "https://discord/x", **EMAIL}
    )
    (receiver,) = cfg["receivers"]
    assert list(receiver) == ["name", "webhook_configs", "discord_configs", "email_configs"]
    assert receiver["webhook_configs"] == [{"url": "http://a/h"}, {"url": "http://b/h"}]
    assert receiver["discord_configs"] == [{"webhook_url": "https://discord/x"}]
    assert receiver["email_configs"] == [{"to": "ops@example.org"}]


def test_smtp_settings_only_with_an_email_receiver():
    cfg = amc.alertmanager_config({"webhook_urls": ["http://a/h"], "smtp_smarthost": "smtp:25", "smtp_username": "u"})
    assert cfg["global"] == {}
    assert "email_configs" not in cfg["receivers"][0]


def test_smtp_without_a_username_has_no_auth():
    cfg = amc.alertmanager_config({**EMAIL, "smtp_password": "ignored"})
    assert cfg["global"] == {
        "smtp_smarthost": "smtp.example.org:587",
        "smtp_from": "am@example.org",
        "smtp_require_tls": True,
    }


def test_smtp_auth_with_a_username():
    cfg = amc.alertmanager_config(
        {**EMAIL, "smtp_username": "am", "smtp_password": "p:w 'x'", "smtp_require_tls": False}
    )
    assert list(cfg["global"]) == [
        "smtp_smarthost",
        "smtp_from",
        "smtp_require_tls",
        "smtp_auth_username",
        "smtp_auth_password",
    ]
    assert cfg["global"]["smtp_auth_password"] == "p:w 'x'"
    assert cfg["global"]["smtp_require_tls"] is False
    # The password survives the YAML round trip as the same string.
    assert yaml.safe_load(yaml.safe_dump(cfg))["global"]["smtp_auth_password"] == "p:w 'x'"


@pytest.mark.parametrize("missing", ["smtp_smarthost", "email_from"])
def test_email_without_smtp_settings_is_refused(missing):
    with pytest.raises(AnsibleFilterError, match="smtp_smarthost .* or email_from"):
        amc.alertmanager_config({**EMAIL, missing: ""})


def test_unknown_option_and_a_single_url_are_refused():
    with pytest.raises(AnsibleFilterError, match="unknown option.*webhook_url\\b"):
        amc.alertmanager_config({"webhook_url": "http://a/h"})
    with pytest.raises(AnsibleFilterError, match="webhook_urls must be a list"):
        amc.alertmanager_config({"webhook_urls": "http://a/h"})


def test_filter_is_registered():
    assert amc.FilterModule().filters()["alertmanager_config"] is amc.alertmanager_config
