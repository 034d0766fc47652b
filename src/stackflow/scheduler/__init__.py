"""Schedules: cron/rate/at expressions, time zones with AWS's DST rules, due runs.

The modules re-exported here are pure (no I/O, no clock). The tick service that starts
executions, :class:`stackflow.scheduler.service.SchedulerService`, is imported from its module.
"""

from stackflow.scheduler.expressions import (
    AtExpression,
    CronExpression,
    Expression,
    ExpressionError,
    RateExpression,
    parse_expression,
)
from stackflow.scheduler.schedule import (
    DEFAULT_GRACE,
    RunPlan,
    ScheduleSpec,
    due_runs,
    execution_name,
    flexible_offset,
    plan_runs,
)
from stackflow.scheduler.zones import load_zone, local_to_utc, utc_to_local

__all__ = [
    "DEFAULT_GRACE",
    "AtExpression",
    "CronExpression",
    "Expression",
    "ExpressionError",
    "RateExpression",
    "RunPlan",
    "ScheduleSpec",
    "due_runs",
    "execution_name",
    "flexible_offset",
    "load_zone",
    "local_to_utc",
    "parse_expression",
    "plan_runs",
    "utc_to_local",
]
