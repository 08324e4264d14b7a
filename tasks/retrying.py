"""Prefect retries of ballast's tasks: transient failures only, with exponential backoff.

Every task carries ``DEFAULT`` (3 retries after 2, 4 and 8 s); a flow applies the workspace's
``retries:`` section of ``ballast.yaml`` with ``configured(task, for_workspace(root))``.
``transient_only`` is the ``retry_condition_fn``: a data error or a bug fails the task at once
(``ballast.ops.transient``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from prefect import Task
from prefect.client.schemas.objects import TaskRun
from prefect.states import State
from prefect.tasks import exponential_backoff

from ballast import config as ballast_config
from ballast.config import RetryConfig
from ballast.ops import transient

T = TypeVar("T", bound=Task)


def failure(state: State) -> BaseException | None:
    """The exception a failed task state carries."""
    if isinstance(state.data, BaseException):
        return state.data
    try:
        found = state.result(raise_on_failure=False)
    except Exception:  # a result that cannot be read: nothing to classify
        return None
    return found if isinstance(found, BaseException) else None


def transient_only(task: Task, task_run: TaskRun, state: State) -> bool:
    """``retry_condition_fn``: retry only when the failure is transient."""
    return transient.is_transient(failure(state))


def options(config: RetryConfig) -> dict[str, Any]:
    """Keyword arguments of ``@task`` / ``Task.with_options`` for ``config``."""
    delay = exponential_backoff(config.delay_seconds) if config.delay_seconds else 0
    return {
        "retries": config.attempts,
        "retry_delay_seconds": delay,
        "retry_condition_fn": transient_only,
    }


DEFAULT = options(RetryConfig())


def for_workspace(workspace: str | Path) -> RetryConfig:
    """The retries the workspace's ``ballast.yaml`` asks for (defaults when absent)."""
    return ballast_config.load_retries(Path(workspace))


def configured(task: T, config: RetryConfig) -> T:
    """``task`` with the retries of ``config``."""
    return task.with_options(**options(config))
