"""The ECS Fargate task's entry point (same image as the API):

    python -m synthdata_service.worker run-job <job_id>

Builds the service from the runtime contract's environment, claims the job (a job that is
already claimed or finished is left alone) and runs it with heartbeats. Exit status: 0
when the job succeeded, was cancelled or belongs to another worker; 1 when it failed; 2
when the worker itself crashed (the job is then marked `failed` with the reason, since
nothing retries an ECS task).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

__all__ = ["main", "run_job"]

_log = logging.getLogger("synthdata_service.worker")


def run_job(job_id: str, *, service=None) -> int:
    """Run one job here; return the process exit status."""
    from .backends.metadata import JobRecord
    from .jobs.aws import SqsJobRunner, fail_crashed

    if service is None:
        from .core import Service
        from .settings import Settings

        service = Service(Settings.from_env(os.environ, allow_streaming=False),
                          start_runner=False)
    try:
        service.sweep_jobs()
    except Exception:  # noqa: BLE001 - the job at hand still runs
        _log.warning("job sweep failed", exc_info=True)
    try:
        runner = service.runner
        if isinstance(runner, SqsJobRunner):
            runner.run_here(job_id)
        else:
            service.executor.run(job_id)
    except Exception as exc:  # noqa: BLE001 - reported on the job
        _log.exception("the worker crashed running job %s", job_id)
        fail_crashed(service, job_id, f"the ECS worker crashed: {type(exc).__name__}: {exc}"
                     f"; POST /v1/jobs/{job_id}/retry to run it again")
        return 2
    job = service.store.get(JobRecord, job_id)
    status = job.status if job is not None else "missing"
    _log.info("job %s ended here as %s", job_id, status)
    return 1 if status == "failed" else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthdata_service.worker",
                                     description="Run synthdata jobs outside the API.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run-job", help="claim and run one job by id")
    run.add_argument("job_id")
    argv = list(sys.argv[1:] if argv is None else argv)
    # The task definition may already have `python -m synthdata_service.worker` as its entry point
    # while the per-task command repeats it: accept both shapes.
    if argv[:3] == ["python", "-m", "synthdata_service.worker"]:
        argv = argv[3:]
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    return run_job(args.job_id)


if __name__ == "__main__":
    sys.exit(main())
