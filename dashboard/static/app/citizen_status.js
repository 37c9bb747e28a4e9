// Citizen status page: the report by tracking code, its timeline and the department's answers.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let last = null;

  function render(doc) {
    const t = window.CZ.t;
    $("status").textContent = t(doc.detailed_status || doc.status);
    $("status").dataset.status = doc.detailed_status || doc.status;
    $("agency").textContent = doc.agency_responsible || "—";
    $("service").textContent = doc.service_name || "—";
    $("due").textContent = doc.expected_datetime ? new Date(doc.expected_datetime).toLocaleString(window.CZ.lang() === "en" ? "en-GB" : "vi-VN") : "—";
    $("description").textContent = doc.description;
    const answer = doc.status === "closed" && doc.status_notes;
    $("answer").hidden = !answer;
    $("answer-text").textContent = answer || "";
    const list = $("timeline");
    list.textContent = "";
    for (const e of doc.timeline) {
      const li = document.createElement("li");
      const when = document.createElement("time");
      when.textContent = new Date(e.at).toLocaleString(window.CZ.lang() === "en" ? "en-GB" : "vi-VN");
      const what = document.createElement("span");
      what.textContent = " " + t("k_" + e.kind.replace(/_/g, ""));
      li.appendChild(when); li.appendChild(what);
      if (e.note && e.kind !== "linked") {
        const note = document.createElement("p");
        note.className = "cz-note"; note.textContent = e.note; li.appendChild(note);
      }
      list.appendChild(li);
    }
    const photos = $("photos");
    photos.textContent = "";
    for (const p of doc.photos) {
      const img = document.createElement("img");
      img.src = new URL(p.url).pathname; img.alt = p.role; img.className = "cz-photo";
      photos.appendChild(img);
    }
    const token = localStorage.getItem("cz-token-" + doc.service_request_id);
    const asked = doc.timeline.some((e) => e.kind === "inforequested");
    $("reply").hidden = !(token && asked && doc.status === "open");
    $("report").hidden = false;
  }

  async function sendReply(ev) {
    ev.preventDefault();
    if (!last) return;
    const code = last.service_request_id;
    const body = new FormData();
    body.set("message", $("reply-text").value);
    body.set("token", localStorage.getItem("cz-token-" + code) || "");
    const answer = await fetch("/feedback/api/status/" + encodeURIComponent(code) + "/reply", { method: "POST", body });
    if (!answer.ok) {
      const doc = await answer.json();
      $("status-error").textContent = doc.message; $("status-error").hidden = false;
      return;
    }
    $("reply-text").value = "";
    lookup(code);
  }

  async function lookup(code) {
    const err = $("status-error");
    err.hidden = true;
    const answer = await fetch("/feedback/api/status/" + encodeURIComponent(code.trim().toUpperCase()));
    const doc = await answer.json();
    if (!answer.ok) {
      const key = "e_" + doc.error;
      err.textContent = window.CZ.t(key) === key ? doc.message : window.CZ.t(key);
      err.hidden = false; $("report").hidden = true; last = null;
      return;
    }
    last = doc;
    render(doc);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const code = new URLSearchParams(location.search).get("code");
    $("lookup").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const value = $("code").value;
      history.replaceState(null, "", "?code=" + encodeURIComponent(value.trim().toUpperCase()));
      lookup(value);
    });
    $("reply").addEventListener("submit", sendReply);
    document.addEventListener("cz-lang", () => { if (last) render(last); });
    if (code) { $("code").value = code; lookup(code); }
  });
})();
