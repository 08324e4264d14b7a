"""Validation stage: each staged file against its Great Expectations suite."""

from __future__ import annotations

from ballast.tasks import retrying
from prefect import task
from prefect.cache_policies import NO_CACHE

from ballast.ingest import inbox


@task(name="validate-files", cache_policy=NO_CACHE, **retrying.DEFAULT)
def validate_files(staged: list[inbox.StagedFile]) -> list[inbox.StagedFile]:
    """Run the GX suite of each parsed file; failures decide quarantine."""
    return inbox.validate(staged)
