"""The Repository variable of the Grafana events dashboard (claude-code-events).

Claude Code sends the git repository of a session as `vcs.repository.url.full` on its events when
OTEL_METRICS_INCLUDE_REPOSITORY is on (the repository-session capture in tests/fixtures: on
user_prompt, api_request and assistant_response; not on the events of sessions outside a
repository, nor on the session-start events). In Loki that is the structured metadata
`vcs_repository_url_full`, so the events dashboard filters with a label filter after the stream
selector. A label filter compares a field the event lacks as the empty value (Loki's
StringLabelFilter), which is how the evaluation below treats it: All must keep the events without a
repository, a chosen repository must keep exactly the events that carry it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import grafana_selectors as gs
from helpers import otlp

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "roles" / "grafana" / "files" / "dashboards"
EVENTS = json.loads((DASHBOARDS / "claude-code-events.json").read_text())
OVERVIEW = json.loads((DASHBOARDS / "claude-code-overview.json").read_text())
FILTER = '| vcs_repository_url_full=~"$repository"'
REPOSITORY = "https://github.com/acme/widgets"
SESSIONS = ("tool-session", "error-session", "repository-session")
_STAGE = re.compile(r'\|\s*(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_SELECTOR = re.compile(r'\{(?=\s*service_name=~"\$service")')


@pytest.fixture(scope="module")
def records() -> list[dict]:
    """Every captured event as Loki holds it (tests/helpers/otlp.py)."""
    out = otlp.loki_records(SESSIONS)
    assert out
    return out


def targets() -> list[tuple[str, str]]:
    return [(f"{p['title']} ({t['refId']})", t["expr"]) for p in EVENTS["panels"] for t in p.get("targets", [])]


def pipelines(expr: str) -> list[str]:
    """The pipeline after each stream selector of a query, up to its range."""
    return [part.split("[")[0] for part in _SELECTOR.split(expr)[1:]]


def label_filters(pipeline: str) -> str:
    """The pipeline's label filters as selector text (unwrap's __error__ filter left out)."""
    return ", ".join(f'{n}{op}"{raw}"' for n, op, raw in _STAGE.findall(pipeline) if n != "__error__")


def variable() -> dict:
    return gs.template_variables(EVENTS)["repository"]


def test_repository_variable():
    variables = gs.template_variables(EVENTS)
    names = list(variables)
    assert names.index("repository") == names.index("project") + 1
    var = variable()
    assert var["label"] == "Repository" and var["type"] == "query"
    # Listed as the overview lists it: repositories of the chosen apps' cost samples.
    overview = gs.template_variables(OVERVIEW)["repository"]
    assert var["definition"] == overview["definition"] == var["query"]["query"]
    assert re.fullmatch(
        r"label_values\(\w+\{service_name=~\"\$service\"\}, vcs_repository_url_full\)", var["definition"]
    )
    assert var["includeAll"] is True and var["multi"] is True
    # All is .*, not the list of repositories (that would drop the events without one).
    assert var["allValue"] == ".*" and gs.interpolated(var) == ".*"
    assert "structured metadata" in var["description"] and "empty value" in var["description"]


@pytest.mark.parametrize(("where", "expr"), targets(), ids=[w for w, _e in targets()])
def test_every_events_query_filters_by_repository(where, expr):
    parts = pipelines(expr)
    assert parts, where
    for part in parts:
        assert part.count(FILTER) == 1, (where, part)
        # After the stream selector, as a label filter: never a stream-selector matcher.
        assert part.index(FILTER) > part.index("}"), (where, part)
    assert "vcs_repository_url_full" not in "".join(gs.selectors(expr)), where


def test_all_keeps_events_without_a_repository_and_a_chosen_one_keeps_its_own(records):
    with_repo = [r for r in records if r.get("vcs_repository_url_full")]
    without = [r for r in records if not r.get("vcs_repository_url_full")]
    assert {r["vcs_repository_url_full"] for r in with_repo} == {REPOSITORY}
    assert {r["event_name"] for r in with_repo} >= {"user_prompt", "api_request"}
    assert {"api_request", "tool_result", "api_error", "user_prompt"} <= {r["event_name"] for r in without}

    everything = gs.all_values(EVENTS)
    chosen = {**everything, "repository": gs.interpolated(variable(), [REPOSITORY])}
    other = {**everything, "repository": gs.interpolated(variable(), ["https://github.com/acme/gadgets"])}
    # The alternative "All": every repository Prometheus lists, as Grafana joins them without an allValue.
    listed = {**everything, "repository": gs.interpolated({**variable(), "allValue": ""}, [REPOSITORY])}
    seen = set()
    for where, expr in targets():
        for part in pipelines(expr):
            sel = label_filters(part)
            (event,) = re.findall(r'event_name="(\w+)"', part)
            of_event = [r for r in records if r["event_name"] == event]
            assert of_event, where
            # All selects what the same query without the repository filter selects.
            unfiltered = label_filters(part.replace(FILTER, ""))
            picked = [r for r in of_event if gs.selects(sel, r, everything)]
            assert picked == [r for r in of_event if gs.selects(unfiltered, r, everything)], where
            assert [r for r in of_event if gs.selects(sel, r, chosen)] == [
                r for r in picked if r.get("vcs_repository_url_full") == REPOSITORY
            ], where
            assert not [r for r in of_event if gs.selects(sel, r, other)], where
            if any(not r.get("vcs_repository_url_full") for r in picked):
                # Events outside a repository: All keeps them, the list of repositories would not.
                assert len([r for r in of_event if gs.selects(sel, r, listed)]) < len(picked), where
                seen.add(event)
    assert {"api_request", "tool_result", "user_prompt"} <= seen
