// qorch dashboard: follows /dashboard/events (server-sent events) and updates the page in place.
// Everything user-provided is written with textContent, never as HTML.
"use strict";
(function () {
  const FINAL = ["Done", "Error", "Cancelled"];
  const body = document.body;
  if (!("liveAfter" in body.dataset) || typeof EventSource === "undefined") return;
  const banner = document.getElementById("live-status");
  let after = body.dataset.liveAfter || "0";
  let source = null;

  function setStatus(cell, status) {
    cell.textContent = status;
    cell.dataset.status = status;
    cell.className = "status status-" + status;
  }

  function matches(table, job) {
    const d = table.dataset;
    return (!d.filterStatus || d.filterStatus === job.status) &&
      (!d.filterDevice || d.filterDevice === job.device_id) &&
      (!d.filterExperiment || d.filterExperiment === job.experiment_id);
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function link(td, href, text) {
    td.textContent = "";
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    td.appendChild(a);
    return a;
  }

  function newRow(job) {
    const row = document.createElement("tr");
    row.dataset.jobId = job.id;
    link(cell(row, ""), "/dashboard/jobs/" + encodeURIComponent(job.id), job.name || job.id.slice(0, 8))
      .className = "job-link";
    const status = cell(row, "");
    setStatus(status, job.status);
    cell(row, job.device_id);
    link(cell(row, ""), "/dashboard/experiments/" + encodeURIComponent(job.experiment_id),
      job.experiment_id.slice(0, 8));
    cell(row, job.run_type + (job.dry_run ? " (dry run)" : ""));
    cell(row, (job.creation_date || "").slice(0, 19).replace("T", " "));
    return row;
  }

  function apply(job) {
    let seen = false;
    document.querySelectorAll("tr[data-job-id]").forEach(function (row) {
      if (row.dataset.jobId !== job.id) return;
      seen = true;
      const status = row.querySelector(".status");
      if (status) setStatus(status, job.status);
    });
    const table = document.querySelector("table[data-live-insert]");
    if (!seen && table && matches(table, job)) {
      const tbody = table.tBodies[0];
      tbody.insertBefore(newRow(job), tbody.firstChild);
      const empty = table.parentNode.querySelector(":scope > p.empty");
      if (empty) empty.remove();
    }
    if (body.dataset.jobId === job.id) {
      const status = document.getElementById("job-status");
      if (status) setStatus(status, job.status);
      const was = body.dataset.jobStatus;
      body.dataset.jobStatus = job.status;
      if (FINAL.includes(job.status) && !FINAL.includes(was)) refresh();
    }
  }

  // The job page swaps in its changing part (results, cost, timeline) when the job ends; the
  // part is rendered by the server, every user-provided text in it escaped there. Other pages
  // watching a job (the Lab's estimate) reload.
  function refresh() {
    const url = body.dataset.jobSections;
    const sections = document.getElementById("job-sections");
    if (!url || !sections || typeof fetch === "undefined") {
      window.location.reload();
      return;
    }
    fetch(url + window.location.search, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (answer) {
        if (!answer.ok) throw new Error("status " + answer.status);
        return answer.text();
      })
      .then(function (html) {
        const parsed = new DOMParser().parseFromString(html, "text/html");
        const fresh = parsed.getElementById("job-sections");
        if (!fresh) throw new Error("no sections");
        sections.replaceWith(document.adoptNode(fresh));
        body.dataset.refreshed = "1";
      })
      .catch(function () { window.location.reload(); });
  }

  function connected(yes) {
    body.dataset.live = yes ? "connected" : "disconnected";
    if (banner) banner.hidden = yes;
  }

  function connect() {
    // The query names where to start; on its own reconnects the browser sends Last-Event-ID.
    source = new EventSource("/dashboard/events?after=" + encodeURIComponent(after));
    source.onopen = function () { connected(true); };
    source.addEventListener("job", function (event) {
      if (event.lastEventId) after = event.lastEventId;
      apply(JSON.parse(event.data));
    });
    source.onerror = function () {
      connected(false);
      if (source.readyState === EventSource.CLOSED) {
        source = null;
        window.setTimeout(connect, 2000);  // refused for good (e.g. a 5xx): start again
      }
    };
  }

  connect();
})();
