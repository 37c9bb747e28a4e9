// Police review page: the queue (filters, keyboard), the case view and the decisions.
// All data comes from the audited review API; new violations arrive over the websocket
// (channel "violations"). DOM is built with textContent only (no innerHTML with data).

const API = "/api/v1/review/cases";
const $ = (id) => document.getElementById(id);
const HP = { south: 20.62, north: 21.05, west: 106.42, east: 107.02 }; // mainland Hai Phong
let cases = [];
let selected = -1;
let current = null;
let options = null;
let clipKind = "clip_annotated";
let fresh = new Set();
let reloadTimer = null;

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function vnd(n) { return n == null ? "—" : `${Number(n).toLocaleString("vi-VN")} đ`; }
function when(iso) { return new Date(iso).toLocaleString("vi-VN", { timeZone: "Asia/Ho_Chi_Minh" }); }

function filterQuery() {
  const form = new FormData($("filters"));
  const q = new URLSearchParams();
  for (const [k, v] of form.entries()) {
    if (!v) continue;
    if (k === "since") q.set(k, `${v}T00:00:00+07:00`);
    else if (k === "until") q.set(k, `${v}T23:59:59+07:00`);
    else q.set(k, v);
  }
  return q;
}

function say(text, good = false) {
  $("msg").textContent = text;
  $("msg").className = good ? "msg good" : "msg";
}

async function api(url, init) {
  const res = await fetch(url, { credentials: "same-origin", ...init });
  if (res.status === 401) { location.assign(`/login?next=${encodeURIComponent("/review")}`); }
  const body = res.headers.get("content-type")?.includes("json") ? await res.json() : null;
  return { ok: res.ok, status: res.status, body };
}

function fillOptions() {
  const rule = document.querySelector("#filters select[name=rule]");
  for (const r of options.rules) rule.append(new Option(`${r.vi} / ${r.en}`, r.key));
  for (const v of options.vehicle_types) $("vehicle").append(new Option(`${v.vi} / ${v.en}`, v.key));
  for (const r of options.reject_reasons) $("reason").append(new Option(`${r.vi} / ${r.en}`, r.key));
  for (const r of options.rules) $("newrule").append(new Option(`${r.vi} / ${r.en}`, r.key));
}

async function loadQueue(keep) {
  const { ok, body } = await api(`${API}?${filterQuery()}`);
  if (!ok) { say(body?.message ?? "error"); return; }
  if (!options) { options = body.options; fillOptions(); }
  const before = cases[selected]?.event_id;
  cases = body.cases;
  renderQueue();
  let idx = keep && before ? cases.findIndex((c) => c.event_id === before) : -1;
  if (idx < 0 && cases.length) idx = 0;
  if (idx !== selected || cases[idx]?.event_id !== current?.event_id) select(idx);
}

function renderQueue() {
  $("queue").replaceChildren(...cases.map((c, i) => {
    const li = el("li");
    li.dataset.id = c.event_id;
    if (i === selected) li.classList.add("sel");
    if (fresh.has(c.event_id)) li.classList.add("fresh");
    li.append(el("div", "title", c.rule_name.vi),
      el("div", "meta", `${c.camera_name} · ${when(c.time)} · ${c.vehicle_class}`),
      el("div", "meta", `${c.status} · ≤ ${vnd(c.fine_max_vnd)} · ${c.points} điểm`));
    li.addEventListener("click", () => select(i));
    return li;
  }));
  $("empty").hidden = cases.length > 0;
}

async function select(i) {
  if (i < 0 || i >= cases.length) { $("case").hidden = true; selected = -1; current = null; return; }
  selected = i;
  fresh.delete(cases[i].event_id);
  renderQueue();
  document.querySelector("#queue li.sel")?.scrollIntoView({ block: "nearest" });
  const { ok, body } = await api(`${API}/${cases[i].event_id}`);
  if (!ok) { say(body?.message ?? "error"); return; }
  current = body;
  renderCase();
}

function evidenceUrl(kind) { return `${API}/${current.event_id}/evidence/${kind}`; }
function has(kind) { return current.evidence.some((e) => e.kind === kind); }

function setClip(kind) {
  clipKind = kind;
  $("show-annotated").classList.toggle("on", kind === "clip_annotated");
  $("show-raw").classList.toggle("on", kind === "clip_raw");
  const v = $("video");
  if (current.evidence_purged || !has(kind)) { v.removeAttribute("src"); v.load(); return; }
  v.src = evidenceUrl(kind);
  v.play().catch(() => {});
}

function row(label, value) {
  const tr = el("tr");
  tr.append(el("th", null, label), el("td", null, value));
  return tr;
}

let districts = null; // [{name, rings: [[[lon, lat], ...], ...]}] from the wall's map data
const bounds = HP;

async function loadDistricts() {
  try {
    const { ok, body } = await api("/api/v1/wall/map");
    if (!ok || !body?.areas?.features) return;
    districts = [];
    for (const f of body.areas.features) {
      const g = f.geometry;
      const polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
      const rings = polys.map((p) => p[0]);
      districts.push({ name: f.properties?.name_vi ?? f.properties?.name ?? "", rings });
    }
    if (current) renderMap(current.camera);
  } catch (err) { console.warn("no district map", err); }
}

function project(lon, lat) {
  return [((lon - bounds.west) / (bounds.east - bounds.west)) * 200,
    ((bounds.north - lat) / (bounds.north - bounds.south)) * 120];
}

function renderMap(cam) {
  const svg = $("map");
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  for (const d of districts ?? []) {
    for (const ring of d.rings) {
      const path = document.createElementNS(ns, "polygon");
      path.setAttribute("points", ring.map(([lon, lat]) => project(lon, lat).map((v) => v.toFixed(1)).join(",")).join(" "));
      path.setAttribute("fill", "#1d3147"); path.setAttribute("stroke", "#4a6a8a"); path.setAttribute("stroke-width", "0.5");
      svg.append(path);
    }
  }
  if (cam.lat == null || cam.lon == null) { $("map-cap").textContent = "—"; return; }
  const [x, y] = project(cam.lon, cam.lat);
  const dot = document.createElementNS(ns, "circle");
  dot.setAttribute("cx", x.toFixed(1)); dot.setAttribute("cy", y.toFixed(1));
  dot.setAttribute("r", "4"); dot.setAttribute("fill", "#ff5a4f"); dot.setAttribute("stroke", "#fff");
  dot.id = "map-camera";
  const label = document.createElementNS(ns, "text");
  label.setAttribute("x", "4"); label.setAttribute("y", "12"); label.setAttribute("fill", "#9fb0c0");
  label.setAttribute("font-size", "9"); label.textContent = "Hải Phòng";
  svg.append(label, dot);
  $("map-cap").textContent = `${cam.name}: ${cam.lat.toFixed(5)}, ${cam.lon.toFixed(5)}`;
}

function renderCase() {
  const c = current;
  $("case").hidden = false;
  $("c-title").textContent = `${c.rule_name.vi} / ${c.rule_name.en}`;
  $("c-sub").textContent = `${c.event_id} · ${c.status} · v${c.version}`;
  setClip(clipKind);
  const frames = [["key_frame_before", "Trước / Before"], ["key_frame_event", "Vi phạm / Event"],
    ["key_frame_after", "Sau / After"], ["vehicle_crop", "Phương tiện / Vehicle"]];
  $("frames").replaceChildren(...frames.filter(([k]) => has(k) && !c.evidence_purged).map(([k, label]) => {
    const fig = el("figure");
    const img = el("img"); img.alt = label; img.src = evidenceUrl(k); img.dataset.kind = k;
    fig.append(img, el("figcaption", null, label));
    return fig;
  }));
  const m = c.measured ?? {};
  const facts = [
    row("Hành vi / Violation", `${c.rule_name.vi}${c.detected_rule !== c.rule ? ` (phát hiện: ${c.detected_rule})` : ""}`),
    row("Căn cứ / Legal basis", c.legal.citation ?? "—"),
    row("Mức phạt / Fine", `${vnd(c.legal.fine_min_vnd)} – ${vnd(c.legal.fine_max_vnd)}`),
    row("Điểm GPLX / Points", c.legal.points ?? 0),
    row("Thời gian / Time", when(c.time)),
    row("Địa điểm / Place", `${c.camera.name} · ${c.where}`),
    row("Phương tiện phát hiện / Detected", c.vehicle_class),
  ];
  if (m.signal !== undefined) facts.push(row("Đèn / Signal", `${m.signal}${m.red_for_s !== undefined ? ` (đỏ ${m.red_for_s} s)` : ""}`));
  if (m.speed_kmh !== undefined) facts.push(row("Tốc độ / Speed", `${m.speed_kmh} km/h${m.limit_kmh ? ` (giới hạn ${m.limit_kmh})` : ""}`));
  if (m.speed_kmh !== undefined) {
    facts.push(row("Hiệu chuẩn / Calibration", m.calibration
      ?? `mặt phẳng đường (homography) của camera ${c.camera.id}${m.window_s ? `, đo trong ${m.window_s} s` : ""}`));
  }
  const shown = ["signal", "red_for_s", "speed_kmh", "limit_kmh", "calibration"];
  for (const [k, v] of Object.entries(m)) if (!shown.includes(k)) facts.push(row(k, v));
  if (c.plate) facts.push(row("Biển số / Plate", c.plate));
  if (c.reject_reason) facts.push(row("Lý do loại / Rejected", c.reject_reason));
  if (!c.evidence_complete) facts.push(row("Chứng cứ / Evidence", "không đầy đủ / incomplete"));
  if (c.evidence_purged) facts.push(row("Chứng cứ / Evidence", "đã xoá theo thời hạn lưu / purged"));
  $("facts").replaceChildren(...facts);
  renderProvenance(c);
  renderMap(c.camera);
  const open = c.actions.includes("confirm");
  $("confirm-form").hidden = !open;
  $("reject-form").hidden = !open;
  $("reclassify-form").hidden = !open;
  $("plate").value = c.plate ?? "";
  $("vehicle").value = c.vehicle_type ?? (["car", "motorbike", "bus", "truck"].includes(c.vehicle_class) ? c.vehicle_class : "car");
  $("newrule").value = c.rule;
  const labels = { issue_notice: "Ra thông báo / Issue notice", appeal: "Ghi nhận khiếu nại / Appeal",
    reopen: "Mở lại / Reopen", uphold: "Giữ nguyên / Uphold" };
  $("more").replaceChildren(...c.actions.filter((a) => labels[a]).map((a) => {
    const b = el("button", null, labels[a]); b.type = "button"; b.dataset.action = a;
    b.addEventListener("click", () => decide({ action: a, note: $("note").value }));
    return b;
  }));
  $("export").href = `${API}/${c.event_id}/export`;
  $("history").replaceChildren(...(c.history ?? []).map((h) =>
    el("li", null, `${when(h.at)} · ${h.actor} · ${h.action}: ${h.from} → ${h.to}`)));
  say("");
}

// What judged the case, from its evidence metadata (vision/provenance.py): the weights and
// the camera configuration by their SHA-256, the runtime, the rate and input size. Fetched
// once per case (each fetch is an audited evidence view), not again after every decision.
const provenanceOf = new Map(); // event id -> promise of the metadata's provenance or null

async function renderProvenance(c) {
  if (c.evidence_purged || !has("metadata")) return;
  if (!provenanceOf.has(c.event_id)) {
    provenanceOf.set(c.event_id, api(evidenceUrl("metadata")).then(({ ok, body }) => {
      if (!ok) provenanceOf.delete(c.event_id); // asked again next time
      return ok ? body?.provenance ?? null : null;
    }));
  }
  const p = await provenanceOf.get(c.event_id);
  // older evidence without it, moved on to another case, or a later render already added it
  if (!p || current?.event_id !== c.event_id || $("facts").querySelector("tr.provenance")) return;
  const d = p.detector ?? {}, cam = p.camera ?? {};
  const short = (h) => (h ? `sha256 ${String(h).slice(0, 16)}` : "sha256 —");
  const how = [d.runtime, d.device, d.inference_precision ?? d.precision].filter(Boolean).join(", ");
  const rows = [
    row("Mô hình / Model", `${d.weights ?? d.type ?? "—"} · ${short(d.weights_sha256)}${how ? ` · ${how}` : ""}`),
    row("Cấu hình camera / Camera config",
      `${short(cam.config_sha256)} · ${cam.detect_fps ?? "?"} lần/s · ${cam.detect_imgsz ?? "?"} px`),
  ];
  for (const r of rows) r.classList.add("provenance");
  $("facts").append(...rows);
}

async function decide(payload) {
  if (!current) return;
  const { ok, body } = await api(`${API}/${current.event_id}/decision`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...payload, version: current.version }),
  });
  if (!ok) { say(`${body?.error ?? "error"}: ${body?.message ?? ""}`); return; }
  current = body.case;
  renderCase();
  say(`${body.transition.from} → ${body.transition.to}`, true);
  const idx = cases.findIndex((c) => c.event_id === current.event_id);
  if (idx >= 0) cases[idx] = { ...cases[idx], status: current.status, version: current.version };
  renderQueue();
}

function confirmCase() {
  if (!current?.actions.includes("confirm")) return;
  if (!$("plate").value.trim()) { $("plate").focus(); say("Nhập biển số / Enter the plate"); return; }
  decide({ action: "confirm", plate: $("plate").value, vehicle_type: $("vehicle").value, note: $("note").value });
}

function rejectCase() {
  if (!current?.actions.includes("reject")) return;
  if (!$("reason").value) { $("reason").focus(); say("Chọn lý do / Choose a reason"); return; }
  decide({ action: "reject", reason: $("reason").value, note: $("note").value });
}

function replay() {
  const v = $("video");
  if (!v.src) return;
  v.currentTime = 0;
  v.play().catch(() => {});
}

function onKey(ev) {
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement?.tagName);
  if (ev.key === "Escape" && typing) { document.activeElement.blur(); return; }
  if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key === "j") { ev.preventDefault(); select(Math.min(cases.length - 1, selected + 1)); }
  else if (ev.key === "k") { ev.preventDefault(); select(Math.max(0, selected - 1)); }
  else if (ev.key === "c") { ev.preventDefault(); confirmCase(); }
  else if (ev.key === "r") { ev.preventDefault(); rejectCase(); }
  else if (ev.key === " ") { ev.preventDefault(); replay(); }
}

function onNew(event) {
  // the server filters by the officer's scope and the filters: count what the queue shows
  fresh.add(event.event_id);
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(async () => {
    await loadQueue(true);
    const shown = cases.filter((c) => fresh.has(c.event_id)).length;
    $("newcount").hidden = shown === 0;
    $("newcount").textContent = `+${shown} mới / new`;
  }, 300);
}

let attempt = 0;
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  const pill = $("conn");
  socket.addEventListener("open", () => { attempt = 0; });
  socket.addEventListener("message", (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    const items = msg.type === "batch" ? msg.items ?? [] : [msg];
    for (const m of items) {
      if (m.type === "hello") {
        $("user").textContent = `${m.user} · ${m.role}`;
        if (m.channels.includes("violations")) {
          socket.send(JSON.stringify({ type: "subscribe", channels: ["violations"] }));
        }
      } else if (m.type === "snapshot") {
        pill.dataset.state = "live"; pill.textContent = "trực tuyến / live";
      } else if (m.type === "violation.new") {
        onNew(m.event);
      }
    }
  });
  socket.addEventListener("close", (ev) => {
    pill.dataset.state = "offline"; pill.textContent = "mất kết nối / offline";
    if (ev.code === 4401) { location.assign(`/login?next=${encodeURIComponent("/review")}`); return; }
    if (ev.code === 4403) return;
    setTimeout(connect, Math.min(15000, 500 * 2 ** attempt++));
  });
}

function start() {
  $("filters").addEventListener("change", () => { fresh.clear(); $("newcount").hidden = true; loadQueue(false); });
  $("filters").addEventListener("submit", (ev) => { ev.preventDefault(); loadQueue(false); });
  $("confirm-form").addEventListener("submit", (ev) => { ev.preventDefault(); confirmCase(); });
  $("reject-form").addEventListener("submit", (ev) => { ev.preventDefault(); rejectCase(); });
  $("reclassify-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    decide({ action: "reclassify", rule: $("newrule").value, note: $("note").value });
  });
  $("show-annotated").addEventListener("click", () => setClip("clip_annotated"));
  $("show-raw").addEventListener("click", () => setClip("clip_raw"));
  $("replay").addEventListener("click", replay);
  document.addEventListener("keydown", onKey);
  loadQueue(false);
  loadDistricts();
  connect();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
