"""The executor: follows the log, claims jobs, runs them inline or at a remote provider."""

from qorch.adapters.executor.executor import Executor
from qorch.adapters.executor.workers import claimant_is_dead, new_worker_id, run_in_process

__all__ = ["Executor", "claimant_is_dead", "new_worker_id", "run_in_process"]
