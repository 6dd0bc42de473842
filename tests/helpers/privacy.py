"""A session that carries everything a privacy control must act on: the captured tool-session's
events, *derived* with an email, an account id and an organization id on every record, the prompt
and the answer as text (as with OTEL_LOG_USER_PROMPTS=1) and the tool input (as with
OTEL_LOG_TOOL_DETAILS=1, which the capture already has). Only those attribute values differ from
the real capture."""

from __future__ import annotations

import hashlib

from helpers import otlp

SESSION = "tool-session"
EMAIL = "ana.secret@example.com"
ACCOUNT = "acct-7f3e-private"
ORGANIZATION = "org-4411"
PROMPT = "please read /home/ana/secret-plan.txt 4711"
ANSWER = "the plan says 0815"
CONTENT = {"prompt": PROMPT, "prompt_text": PROMPT, "user_prompt": PROMPT, "response": ANSWER}
IDENTITY = {"user.email": EMAIL, "user.account_uuid": ACCOUNT, "organization.id": ORGANIZATION}
# Strings no backend may hold with the default privacy settings.
SECRETS = (EMAIL, ACCOUNT, PROMPT, ANSWER, "print('hello')")


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _set(attrs: list[dict], key: str, value: str) -> None:
    for item in attrs:
        if item["key"] == key:
            item["value"] = {"stringValue": value}
            return
    attrs.append(otlp_kv(key, value))


def otlp_kv(key: str, value: str) -> dict:
    return {"key": key, "value": {"stringValue": value}}


def session_payloads(session_id: str) -> list[tuple[str, dict]]:
    """(signal, payload) of the derived session, moved to now, with its own session id."""
    out = []
    for signal, payload in otlp.session_payloads(SESSION):
        if signal != "logs":
            continue
        for rl in payload["resourceLogs"]:
            for sl in rl["scopeLogs"]:
                for rec in sl["logRecords"]:
                    attrs = rec["attributes"]
                    _set(attrs, "session.id", session_id)
                    for key, value in IDENTITY.items():
                        _set(attrs, key, value)
                    keys = {a["key"] for a in attrs}
                    for key, value in CONTENT.items():
                        if key in keys:
                            _set(attrs, key, value)
        out.append((signal, payload))
    return out


def records(payloads) -> list[dict]:
    return [attrs for _signal, payload in payloads for _res, _rec, attrs in otlp.log_records(payload)]
