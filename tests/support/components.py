"""Drive a st.components.v2 component from AppTest as its JavaScript would.

AppTest has no wrapper for v2 components (they show up as UnknownElement), so this sends the same
widget-state message the frontend sends when the JS calls setTriggerValue: the trigger aggregator
widget `$$STREAMLIT_INTERNAL_KEY_<id>__events` holding a JSON list of {event, value}. Callbacks,
session state and the rerun then follow Streamlit's real path.
"""

from __future__ import annotations

import json

from streamlit.components.v2.bidi_component.main import _make_trigger_id
from streamlit.testing.v1 import AppTest


def find_component(at: AppTest, name: str):
    for node in at.main:
        proto = getattr(node, "proto", None)
        if proto is not None and getattr(proto, "component_name", None) == name:
            return proto
    raise AssertionError(f"component {name!r} is not on the page")


def component_data(at: AppTest, name: str) -> dict:
    proto = find_component(at, name)
    return json.loads(proto.json) if proto.WhichOneof("data") == "json" else {}


def trigger(at: AppTest, name: str, event: str, value, timeout: float = 30) -> AppTest:
    proto = find_component(at, name)
    states = at._tree.get_widget_states()
    widget = states.widgets.add()
    widget.id = _make_trigger_id(proto.id, "events")
    widget.json_trigger_value = json.dumps([{"event": event, "value": value}])
    return at._run(states, timeout=timeout)
