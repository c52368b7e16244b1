"""Cloud Run Jobs task entry point, in the same image as the API:

    python -m synthdata_service.handlers.gcp_jobs <job id>

The `JobRunner` construct sets this as the Cloud Run Job's command; each execution the
service starts (`synthdata_service.jobs.gcp.CloudRunJobRunner`) passes the job id as its
argument. The service is built from the runtime contract's environment, the job is run
here with heartbeats (a later attempt, `CLOUD_RUN_TASK_ATTEMPT` > 0, takes back the job of
an attempt that died), and the next job waiting for a worker slot is started.

Exit status 0 whenever the task did its part - the job's own outcome (succeeded, failed
with a reason, cancelled) is on the job record, so a job that failed for its own reasons
is not retried by Cloud Run; 2 for a usage or configuration error. A task that dies
(out of memory, timeout) exits non-zero by itself and Cloud Run retries it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

__all__ = ["main"]

_log = logging.getLogger("synthdata_service.worker")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthdata_service.handlers.gcp_jobs",
                                     description="Run one synthdata job in a Cloud Run Job task.")
    parser.add_argument("job_id", help="the job to run (the execution's argument)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")

    from ..core import Service
    from ..jobs.gcp import CloudRunJobRunner
    from ..settings import Settings

    service = Service(Settings.from_env(os.environ, allow_streaming=False), start_runner=False)
    try:
        runner = service.runner
        if not isinstance(runner, CloudRunJobRunner):
            _log.error("SYNTH_JOBS_URL is %r: a Cloud Run Job task needs the cloudrun:// "
                       "runner the JobRunner construct configures", service.settings.jobs_url)
            return 2
        attempt = int(os.environ.get("CLOUD_RUN_TASK_ATTEMPT", "0") or 0)
        outcome = runner.run_task(service, args.job_id, attempt=attempt,
                                  cloud_run_job=os.environ.get("CLOUD_RUN_JOB"))
        _log.info("job %s (attempt %d): %s", args.job_id, attempt, outcome)
        return 0
    finally:
        service.close()


if __name__ == "__main__":
    sys.exit(main())
