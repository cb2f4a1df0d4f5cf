"""The Definitions' executor: every step of a run in one process by default, several processes on request.

Dagster's default (``multi_or_in_process_executor``) starts a process per step, and each reloads the
definitions: 30-50 s of start-up per run for steps that often find their shard up to date. So runs execute in
process, as ``dg.in_process_executor`` does. The one place where steps of one run are worth spreading over
processes is a mixture's per-unit ``write`` ops (one per snapshot x shard, mapped dynamically): a large build
can ask for them in its run config (the Launchpad, or a job's config)::

    execution:
      config:
        multiprocess:
          max_concurrent: 8      # 0: the number of cores

This is Dagster's own selector (the same fields and executors as ``multi_or_in_process_executor``), with the
default flipped to ``in_process``.
"""

import dagster as dg
from dagster._core.definitions.executor_definition import (IN_PROC_CONFIG, MULTI_PROC_CONFIG,
                                                           _core_in_process_executor_creation,
                                                           _core_multiprocess_executor_creation,
                                                           multiple_process_executor_requirements)


def _requirements(config):
    return multiple_process_executor_requirements() if "multiprocess" in config else []


@dg.executor(
    name="in_process_or_multiprocess",
    config_schema=dg.Field(dg.Selector({"in_process": IN_PROC_CONFIG, "multiprocess": MULTI_PROC_CONFIG}),
                           default_value={"in_process": {}}),
    requirements=_requirements,
)
def in_process_or_multiprocess(init_context):
    cfg = init_context.executor_config
    if "multiprocess" in cfg:
        return _core_multiprocess_executor_creation(cfg["multiprocess"])
    return _core_in_process_executor_creation(cfg["in_process"])
