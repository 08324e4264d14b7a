"""Scale-out: a review's shards computed and rendered on a Dask cluster through Prefect's
``prefect-dask`` task runner (``ballast.cluster.runner``), the work of one shard as a plain
function (``ballast.cluster.shard``). The coordinator (the flow's process) keeps the warehouse,
the run folder and the audit trail; workers never open DuckDB."""
