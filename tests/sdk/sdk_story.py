"""Runs inside the haiqu-sdk virtual environment (not qorch's): drives the unmodified haiqu-sdk
against a qorch server (HAIQU_EDGE_URI, HAIQU_API_KEY) and prints what it saw as one JSON line.

Usage: python sdk_story.py main|cancel
"""

import json
import os
import sys
import warnings

import numpy as np
from haiqu.sdk import haiqu
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp

warnings.simplefilter("ignore")
out: dict = {}


def bell():
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure_all()
    return qc


def job_summary(job):
    return {
        "id": job.id,
        "type": type(job).__name__,
        "job_type": job.job_type.value,
        "status": job.status.value,
        "user_id": job.user_id,
    }


def main():
    out["user"] = haiqu.login()
    haiqu.init("sdk-story")
    experiment = haiqu._experiment
    out["experiment"] = {"id": experiment.id, "user_id": experiment.user_id}
    out["devices"] = [d.id if hasattr(d, "id") else d for d in haiqu.list_devices(widget=False)]
    out["simulators"] = [
        d.id if hasattr(d, "id") else d for d in haiqu.list_simulators(widget=False)
    ]
    device = haiqu.get_device("aer_simulator")
    out["device"] = {"id": device.id, "qubits": device.qubits, "simulator": device.simulator}

    job = haiqu.run(bell(), shots=4000, device_id="aer_simulator")
    out["bell"] = {**job_summary(job), "result": job.result(), "info": job.info}
    out["bell"]["circuit_ids"] = job.input_circuit_ids
    rerun = haiqu.run(bell(), shots=2000, device_id="aer_simulator")
    out["bell_rerun"] = {**job_summary(rerun), "result": rerun.result()}
    out["bell_rerun"]["circuit_ids"] = rerun.input_circuit_ids

    obs = [SparsePauliOp("ZZ"), SparsePauliOp("XX"), SparsePauliOp("ZI")]
    job = haiqu.run(bell(), shots=4000, observables=obs, device_id="aer_simulator")
    out["observables"] = {**job_summary(job), "result": job.result(), "info": job.info}

    theta = Parameter("theta")
    first = QuantumCircuit(2)
    first.ry(theta, 0)
    first.cx(0, 1)
    second = QuantumCircuit(2)
    second.rx(theta, 0)
    job = haiqu.run(
        [first, second],
        parameters=[[[0.0], [np.pi / 2], [np.pi]], [[0.0], [np.pi]]],
        observables=[[SparsePauliOp("ZZ"), SparsePauliOp("IZ")], [SparsePauliOp("IZ")]],
        shots=4000,
        device_id="aer_simulator",
    )
    out["sweep"] = {**job_summary(job), "result": job.result()}

    job = haiqu.dry_run(bell(), shots=1000, device_id="aer_simulator")
    job.result()
    out["dry_run"] = {
        **job_summary(job),
        "quantum_results": job.quantum_results,
        "cost": job.estimated_qpu_cost,
    }

    phased = QuantumCircuit(2)
    phased.h(0)
    phased.cx(0, 1)
    phased.s(1)
    phased.measure_all()
    job = haiqu.statevector_run([bell(), phased])
    states = job.result()
    out["statevector"] = {
        **job_summary(job),
        "states": [[[z.real, z.imag] for z in state] for state in states],
    }

    out["get_job"] = job_summary(haiqu.get_job(out["bell"]["id"]))
    jobs = haiqu.list_jobs(widget=False, limit=50)
    out["list_jobs"] = [j.id if hasattr(j, "id") else j for j in jobs]
    circuits = haiqu.list_circuits(widget=False, limit=50)
    out["list_circuits"] = [c.id if hasattr(c, "id") else c for c in circuits]
    circuit = haiqu.get_circuit(out["bell"]["circuit_ids"][0])
    out["get_circuit"] = {"id": circuit.id, "hash": circuit.hash, "status": circuit.status.value}

    job = haiqu.legacy.run(bell(), shots=2000, device_id="aer_simulator")
    out["legacy_run"] = {**job_summary(job), "result": job.result()}
    job = haiqu.legacy.statevector_run(bell())
    states = job.result()
    out["legacy_statevector"] = {
        **job_summary(job),
        "states": [[[complex(z).real, complex(z).imag] for z in state] for state in states],
    }

    qorch_job = os.environ.get("QORCH_JOB_ID")
    if qorch_job:
        job = haiqu.get_job(qorch_job)
        out["qorch_job"] = {**job_summary(job), "result": job.result()}


def cancel():
    haiqu.login()
    haiqu.init("sdk-cancel")
    job = haiqu.run(bell(), shots=100, device_id="aer_simulator")
    out["before"] = job.status.value
    out["cancelled"] = job.cancel()
    out["after"] = haiqu.get_job(job.id).status.value


if __name__ == "__main__":
    {"main": main, "cancel": cancel}[sys.argv[1]]()
    print("SDK-STORY " + json.dumps(out, default=repr))
