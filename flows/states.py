"""What a ballast flow run says in Prefect: its final state, its tags and its parameter errors.

- A review or monitor that finished with invalid portfolios or quarantined files ends
  ``Failed`` named ``Completed with exceptions`` (Prefect 3 colours a state by its type and has
  no non-green completed type); calling the flow still returns its result (``BallastFlow``).
- A result is returned in a holder Prefect does not walk (``RunResult``).
- Each run is tagged with its trigger, who runs it and why (``_tag_run``).
- A bad parameter fails the run before it starts, with one line naming it (a ``BallastError``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ParamSpec, TypeVar

from prefect import Flow, get_run_logger
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import ParameterTypeError
from prefect.futures import PrefectFuture
from prefect.states import Failed, State

from ballast.errors import BallastError
from ballast.ops import runs

P = ParamSpec("P")
R = TypeVar("R")


WITH_EXCEPTIONS = "Completed with exceptions"


class CompletedWithExceptions(BallastError):
    """The data of a ``Completed with exceptions`` state: what went wrong, and the run's
    result. An exception, so that Prefect's runner, which raises a failed state's data, logs
    this message (one line) rather than failing to make an exception of a dict."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.result)


NAMED_INVALID = 10
"""At most this many invalid portfolios are named in a state's message; the rest are counted."""


class RunResult(Mapping[str, Any]):
    """A run's result as its flow returns it: a read-only mapping, not a dict. Prefect walks
    the dicts and lists a flow returns, and every row in them, looking for futures to resolve
    (``visit_collection``), keeping a map of every object it saw: for a review, every
    portfolio's terminal row (2.6 s of a 50,000-portfolio review's command). It does not walk
    into other objects. Calling the flow unwraps it (``outcome``)."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.data,)


def finished(result: dict[str, Any]) -> RunResult | State:
    """A flow's final state for its ``result``: ``Completed`` when every portfolio was
    reviewed and no file was quarantined, else ``Failed`` named ``Completed with exceptions``
    (red in the Prefect UI) saying what; its data carries the result all the same."""
    invalid, quarantined = result["invalid"], result["ingest"]["quarantined"]
    if not invalid and not quarantined:
        return RunResult(result)
    what = []
    if invalid:
        named = ", ".join(invalid[:NAMED_INVALID])
        if len(invalid) > NAMED_INVALID:
            named += f" and {len(invalid) - NAMED_INVALID:,} more"
        what.append(f"{len(invalid)} portfolio(s) with invalid data ({named})")
    if quarantined:
        what.append(f"{len(quarantined)} file(s) quarantined")
    message = f"run {result['run_id']} wrote its reports with " + " and ".join(what)
    data = CompletedWithExceptions(message, result)
    return Failed(name=WITH_EXCEPTIONS, message=message, data=data)


def _with_exceptions(state: State) -> dict[str, Any] | None:
    """The result a ``Completed with exceptions`` state carries; None for any other state."""
    if not (state.is_failed() and state.name == WITH_EXCEPTIONS):
        return None
    data = state.result(raise_on_failure=False)
    return data.result if isinstance(data, CompletedWithExceptions) else None


def outcome(state: State) -> Any:
    """What calling a ballast flow returns: its result, also when it completed with
    exceptions; the error it raised when it failed."""
    result = _with_exceptions(state)
    value = state.result() if result is None else result
    return value.data if isinstance(value, RunResult) else value


def passed_on(state: State) -> Any:
    """A subflow's outcome as its parent's return value: a ``Completed with exceptions`` stays
    one (a fresh state: Prefect would fold the subflow's own into a plain ``Failed``)."""
    result = _with_exceptions(state)
    return state.result() if result is None else finished(result)


def _tag_run(flow: Flow[..., Any], flow_run: FlowRun, state: State) -> None:
    """On start, tag the flow run with its trigger, who runs it and why (``runs.flow_run_tags``)."""
    from prefect.client.orchestration import get_client

    params = flow_run.parameters
    tags = runs.flow_run_tags(params.get("trigger") or "manual", runs.who(), params.get("reason"))
    try:
        with get_client(sync_client=True) as client:
            client.update_flow_run(flow_run.id, tags=list(dict.fromkeys([*flow_run.tags, *tags])))
    except Exception as exc:  # a label is not worth a failed run
        get_run_logger().warning("could not tag the flow run: %s", exc)


class BallastFlow(Flow[P, R]):
    """A Prefect flow whose direct call returns its result also when it ends ``Completed with
    exceptions`` (a ``Failed`` state), and whose parameter errors are one line naming the
    parameter (a ``BallastError``: no traceback, the run ``Failed`` before it starts)."""

    def validate_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        try:
            checked = super().validate_parameters(parameters)
        except ParameterTypeError as exc:
            raise BallastError(" ".join(str(exc).split())) from None
        runs.check_parameters(checked)
        return checked

    def __call__(  # type: ignore[override]
        self,
        *args: Any,
        return_state: bool = False,
        wait_for: Iterable[PrefectFuture[Any]] | None = None,
        **kwargs: Any,
    ) -> Any:
        state = super().__call__(*args, return_state=True, wait_for=wait_for, **kwargs)
        return state if return_state else outcome(state)


def ballast_flow(name: str) -> Callable[[Callable[P, R]], BallastFlow[P, R]]:
    """``@flow(name=...)`` as a ``BallastFlow`` that tags its runs (``_tag_run``)."""

    def make(fn: Callable[P, R]) -> BallastFlow[P, R]:
        return BallastFlow(fn, name=name, on_running=[_tag_run])

    return make
