"""``prefect.yaml`` describes the deployments ``flows/deployments.py`` builds, with the default
schedule: the code is the source, and this test fails when the file no longer matches it."""

from __future__ import annotations

from typing import Any

import yaml

from tests.support.paths import ROOT

WORKSPACE = "{{ $BALLAST_HOME }}"  # prefect.yaml's workspace parameter, filled in at deploy time


def _described(d: dict[str, Any] | Any, flow_name: str) -> dict[str, Any]:
    """What a deployment says, from the code's ``RunnerDeployment`` or a ``prefect.yaml`` entry."""
    if isinstance(d, dict):
        schedules = [(s["cron"], s["timezone"]) for s in d.get("schedules") or []]
        get = d.get
    else:
        schedules = [(s.schedule.cron, s.schedule.timezone) for s in d.schedules or []]
        get = lambda key: getattr(d, key)  # noqa: E731
    return {
        "flow_name": flow_name,
        "name": get("name"),
        "entrypoint": get("entrypoint"),
        "description": get("description"),
        "tags": get("tags"),
        "parameters": get("parameters"),
        "schedules": schedules,
        "paused": bool(get("paused")),
    }


def test_prefect_yaml_matches_the_code() -> None:
    from ballast.flows.deployments import build_deployments
    from prefect.flows import load_flow_from_entrypoint

    from ballast.config import ScheduleConfig

    code = [_described(d, d.flow_name) for d in build_deployments(WORKSPACE, ScheduleConfig())]
    entries = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
    # the flow name is what ``prefect deploy`` finds at the entrypoint
    described = [_described(e, load_flow_from_entrypoint(e["entrypoint"]).name) for e in entries]

    def key(d: dict[str, Any]) -> tuple[str, str]:
        return d["flow_name"], d["name"]

    assert sorted(map(key, described)) == sorted(map(key, code))
    assert sorted(described, key=key) == sorted(code, key=key)
