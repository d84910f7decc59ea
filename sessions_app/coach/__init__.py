"""The coach: reads one report in its context and answers with a summary, advice and a question.

Pure Python, no database: the domain builds a Context, calls `get_coach().reply(context, report)`,
then stores the Reply, applies its task updates and saves `summarise(...)` as the new summary.
"""

from sessions_app.coach.llm import LLMCoach, get_coach
from sessions_app.coach.rules import RulesCoach
from sessions_app.coach.summary import FOLD_EVERY, fold_history, is_milestone, summarise
from sessions_app.coach.types import (
    Coach,
    Context,
    PastMessage,
    Reply,
    Report,
    TaskState,
    TaskUpdate,
    parse_report,
)

__all__ = [
    "FOLD_EVERY",
    "Coach",
    "Context",
    "LLMCoach",
    "PastMessage",
    "Reply",
    "Report",
    "RulesCoach",
    "TaskState",
    "TaskUpdate",
    "fold_history",
    "get_coach",
    "is_milestone",
    "parse_report",
    "summarise",
]
