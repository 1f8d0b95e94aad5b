"""Runs inside the haiqu-sdk virtual environment (not qorch's): the unmodified haiqu-sdk reads a
job whose provider work partly failed (QORCH_JOB_ID) and prints what it saw as one JSON line."""

import json
import os
import warnings

from haiqu.sdk import haiqu

warnings.simplefilter("ignore")

haiqu.login()
job = haiqu.get_job(os.environ["QORCH_JOB_ID"])
result = job.result()  # raises for a job that failed
print(
    "SDK-STORY "
    + json.dumps(
        {
            "type": type(job).__name__,
            "status": job.status.value,
            "result": result,
            "logs": job.logs,
            "errors": (job.info or {}).get("errors"),
        },
        default=repr,
    )
)
