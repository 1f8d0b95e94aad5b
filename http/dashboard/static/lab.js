// qorch Lab: helpers on top of forms that work without them. Checks that the chosen circuits
// fit the chosen device, shows only that provider's credential fields (the others are disabled,
// so never sent), edits parameter sets as a table (written into the CSV text box, which is what
// is submitted) with a sweep generator, and reads a chosen QASM file into its text box (the file
// itself is never uploaded). Everything user-provided is written with textContent or .value.
"use strict";
(function () {
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // --- a QASM file read into the text box ---
  document.querySelectorAll("input[type=file][data-fills]").forEach(function (input) {
    input.addEventListener("change", function () {
      const target = document.getElementById(input.dataset.fills);
      const file = input.files && input.files[0];
      if (!target || !file) return;
      file.text().then(function (text) { target.value = text; target.focus(); });
    });
  });

  const form = document.getElementById("lab-form");
  if (!form) return;
  const device = document.getElementById("device_id");
  const fit = document.getElementById("fit-check");
  const boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=circuit_ids]"));

  function chosen() { return boxes.filter(function (box) { return box.checked; }); }

  // --- does every chosen circuit fit the device? ---
  function checkFit() {
    const option = device.options[device.selectedIndex];
    if (!option) return;
    const qubits = Number(option.dataset.qubits || 0);
    const tooBig = chosen().filter(function (box) { return Number(box.dataset.qubits) > qubits; });
    fit.classList.toggle("error", tooBig.length > 0);
    form.dataset.fits = tooBig.length ? "no" : "yes";
    if (!chosen().length) {
      fit.textContent = "Choose at least one circuit.";
    } else if (tooBig.length) {
      fit.textContent = tooBig.map(function (box) {
        return box.dataset.name + " needs " + box.dataset.qubits + " qubits";
      }).join("; ") + ": " + option.value + " has " + qubits + ".";
    } else {
      const most = Math.max.apply(null, chosen().map(function (box) { return Number(box.dataset.qubits); }));
      fit.textContent = "Fits: the largest chosen circuit uses " + most + " of " + option.value + "'s " + qubits + " qubits.";
    }
    // Only the chosen device's provider's credentials are shown and sent.
    let needed = false;
    form.querySelectorAll(".credentials").forEach(function (group) {
      const mine = group.dataset.provider === option.dataset.provider && option.dataset.remote === "1";
      needed = needed || mine;
      group.hidden = !mine;
      group.querySelectorAll("input").forEach(function (input) { input.disabled = !mine; });
    });
    const none = document.getElementById("no-credentials");
    if (none) none.hidden = needed;
  }

  // --- parameter sets as a table ---
  const text = document.getElementById("parameters");
  const editor = document.getElementById("parameter-editor");
  let names = [];
  let rows = [];

  function parameterNames() {
    const seen = [];
    chosen().forEach(function (box) {
      (box.dataset.parameters || "").split(",").filter(Boolean).forEach(function (name) {
        if (seen.indexOf(name) < 0) seen.push(name);
      });
    });
    return seen;
  }

  function readText() {
    const lines = text.value.trim().split(/\r?\n/).filter(function (line) { return line.trim(); });
    if (!lines.length) return [];
    const header = lines[0].split(",").map(function (cell) { return cell.trim(); });
    const body = header.some(function (cell) { return isNaN(Number(cell)); }) ? lines.slice(1) : lines;
    const columns = body === lines ? names : header;
    return body.map(function (line) {
      const cells = line.split(",").map(function (cell) { return cell.trim(); });
      return names.map(function (name) {
        const at = columns.indexOf(name);
        return at >= 0 && at < cells.length ? cells[at] : "0";
      });
    });
  }

  function writeText() {
    text.value = rows.length ? [names.join(",")].concat(rows.map(function (row) { return row.join(","); })).join("\n") : "";
  }

  function button(label, id, action) {
    const b = el("button", { type: "button", id: id }, label);
    b.addEventListener("click", action);
    return b;
  }

  function number(value, label, onChange) {
    const input = el("input", { type: "number", step: "any", "aria-label": label });
    input.value = value;
    input.addEventListener("input", function () { onChange(input.value); });
    return input;
  }

  function sweep() {
    const which = document.getElementById("sweep-parameter").value;
    const from = Number(document.getElementById("sweep-from").value);
    const to = Number(document.getElementById("sweep-to").value);
    const points = Math.max(1, Math.min(10000, Math.round(Number(document.getElementById("sweep-points").value))));
    const base = rows[0] || names.map(function () { return "0"; });
    const column = names.indexOf(which);
    rows = [];
    for (let i = 0; i < points; i += 1) {
      const row = base.slice();
      row[column] = String(points === 1 ? from : from + (to - from) * i / (points - 1));
      rows.push(row);
    }
    writeText();
    draw();
  }

  function draw() {
    editor.textContent = "";
    names = parameterNames();
    if (!names.length) { editor.hidden = true; return; }
    editor.hidden = false;
    if (text.value.trim().startsWith("[")) {
      editor.appendChild(el("p", { class: "note" }, "Parameters given as JSON: edit them as text below."));
      return;
    }
    rows = readText();
    const sweepRow = el("div", { class: "row sweep" });
    const pick = el("select", { id: "sweep-parameter", "aria-label": "parameter to sweep" });
    names.forEach(function (name) { pick.appendChild(el("option", { value: name }, name)); });
    const field = function (id, label, value) {
      const wrap = el("label", {}, label + " ");
      const input = el("input", { type: "number", step: "any", id: id });
      input.value = value;
      wrap.appendChild(input);
      return wrap;
    };
    const sweepLabel = el("label", {}, "Sweep ");
    sweepLabel.appendChild(pick);
    [sweepLabel, field("sweep-from", "from", "0"), field("sweep-to", "to", String(2 * Math.PI)),
      field("sweep-points", "points", "16"), button("Fill sets", "sweep-fill", sweep)]
      .forEach(function (node) { sweepRow.appendChild(node); });
    editor.appendChild(sweepRow);
    const table = el("table", { class: "parameters editor", id: "parameter-table" });
    const head = el("tr");
    head.appendChild(el("th", { scope: "col" }, "Set"));
    names.forEach(function (name) { head.appendChild(el("th", { scope: "col" }, name)); });
    head.appendChild(el("th", { scope: "col" }, ""));
    table.appendChild(el("thead")).appendChild(head);
    const tbody = table.appendChild(el("tbody"));
    rows.forEach(function (row, r) {
      const tr = el("tr");
      tr.appendChild(el("th", { scope: "row" }, String(r)));
      names.forEach(function (name, c) {
        const td = el("td");
        td.appendChild(number(row[c], name + " of set " + r, function (value) { rows[r][c] = value; writeText(); }));
        tr.appendChild(td);
      });
      const td = el("td");
      td.appendChild(button("Remove", "remove-set-" + r, function () { rows.splice(r, 1); writeText(); draw(); }));
      tr.appendChild(td);
      tbody.appendChild(tr);
    });
    const scroll = el("div", { class: "scroll" });
    scroll.appendChild(table);
    editor.appendChild(scroll);
    editor.appendChild(button("Add a set", "add-set", function () {
      rows.push((rows[rows.length - 1] || names.map(function () { return "0"; })).slice());
      writeText();
      draw();
    }));
  }

  boxes.forEach(function (box) { box.addEventListener("change", function () { checkFit(); draw(); }); });
  device.addEventListener("change", checkFit);
  text.addEventListener("change", draw);
  form.addEventListener("submit", function () {
    // One click, one job: the buttons stay disabled until the next page.
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    }, 0);
  });
  window.addEventListener("pageshow", function () {
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
  });
  checkFit();
  draw();
})();
