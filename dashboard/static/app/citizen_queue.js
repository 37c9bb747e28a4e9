// Department work queue: list (own department; operators also triage), detail, actions.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let current = null;
  let services = [];
  const fmt = (iso) => (iso ? new Date(iso).toLocaleString("vi-VN") : "—");

  async function load() {
    const params = new URLSearchParams();
    if ($("f-status").value) params.set("status", $("f-status").value);
    if ($("f-overdue").checked) params.set("overdue", "1");
    if ($("f-triage").checked) params.set("triage", "1");
    const answer = await fetch("/api/v1/feedback/queue?" + params);
    if (!answer.ok) return;
    const doc = await answer.json();
    const body = $("rows");
    body.textContent = "";
    for (const r of doc.items) {
      const tr = document.createElement("tr");
      tr.className = "q-row"; tr.dataset.id = r.report_id;
      const overdue = r.overdue_ack || r.overdue_resolve;
      const cells = [r.report_id, r.service_code || ("? " + (r.predicted_code || "")), r.status,
        fmt(r.status === "routed" || r.status === "triage" ? r.ack_due : r.resolve_due), r.description.slice(0, 90)];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (i === 3 && overdue) td.className = "q-overdue";
        tr.appendChild(td);
      });
      tr.addEventListener("click", () => show(r.report_id));
      body.appendChild(tr);
    }
    $("empty").hidden = doc.items.length > 0;
  }

  async function show(id) {
    const answer = await fetch("/api/v1/feedback/reports/" + encodeURIComponent(id));
    if (!answer.ok) return;
    render(await answer.json());
  }

  function render(r) {
    current = r;
    $("detail").hidden = false;
    $("d-code").textContent = r.report_id;
    $("d-status").textContent = r.status; $("d-status").dataset.status = r.status;
    $("d-category").textContent = r.service_code || ("triage: " + (r.predicted_code || "?") + " " + (r.confidence ?? "").toString().slice(0, 4));
    $("d-dept").textContent = r.department || "—";
    $("d-reporters").textContent = r.reporters + " người báo / reporters";
    $("d-description").textContent = r.description;
    $("d-where").textContent = (r.address || "") + (r.lat != null ? " (" + r.lat.toFixed(5) + ", " + r.lon.toFixed(5) + ")" : "");
    const ctx = r.context || {};
    const cams = (ctx.cameras || []).map((c) => c.name + " " + c.distance_m + " m").join(", ");
    const reads = (ctx.readings || []).map((x) => x.sensor_id + " " + x.quantity + "=" + x.value + x.unit).join(", ");
    $("d-context").textContent = (cams ? "Camera: " + cams + ". " : "") + (reads ? "Cảm biến / Sensors: " + reads : "");
    const photos = $("d-photos"); photos.textContent = "";
    for (const p of r.photos) {
      const img = document.createElement("img");
      img.src = new URL(p.url).pathname; img.alt = p.role; img.className = "cz-photo"; photos.appendChild(img);
    }
    const list = $("d-timeline"); list.textContent = "";
    for (const e of r.timeline) {
      const li = document.createElement("li");
      li.textContent = fmt(e.at) + " · " + e.kind + (e.new_status ? " → " + e.new_status : "") + " · " + e.actor + (e.note ? " — " + e.note : "");
      list.appendChild(li);
    }
  }

  async function act(action) {
    if (!current) return;
    const err = $("a-error"); err.hidden = true;
    const body = new FormData();
    const text = $("a-text").value;
    body.set(action === "request_info" ? "question" : action === "resolve" ? "note" : "reason", text);
    if (action === "reassign") body.set("category", $("a-category").value);
    const photo = $("a-photo").files[0];
    if (action === "resolve" && photo) body.set("media", photo);
    const answer = await fetch("/api/v1/feedback/reports/" + encodeURIComponent(current.report_id) + "/" + action, { method: "POST", body });
    const doc = await answer.json();
    if (!answer.ok) { err.textContent = doc.error + ": " + doc.message; err.hidden = false; return; }
    $("a-text").value = ""; $("a-photo").value = "";
    render(doc);
    load();
  }

  document.addEventListener("DOMContentLoaded", async () => {
    ["f-status", "f-overdue", "f-triage"].forEach((id) => $(id).addEventListener("change", load));
    $("refresh").addEventListener("click", load);
    document.querySelectorAll("[data-action]").forEach((b) => b.addEventListener("click", () => act(b.dataset.action)));
    try {
      const me = await (await fetch("/api/v1/me")).json();
      $("who").textContent = (me.name || me.username || "") + " · " + (me.department || me.role || "");
      if (me.role === "operator" || me.role === "admin") $("triage-label").hidden = false;
    } catch (e) { /* not fatal */ }
    services = (await (await fetch("/feedback/api/services")).json()).services;
    for (const s of services) {
      const o = document.createElement("option"); o.value = s.code; o.textContent = s.vi + " / " + s.en;
      $("a-category").appendChild(o);
    }
    load();
  });
})();
