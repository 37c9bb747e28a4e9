// The live page: one websocket, a snapshot on every (re)connect, live patches after it.
// DOM is built with textContent only (no innerHTML with data), so names cannot inject markup.

import { pm25Category, PM25_CATEGORIES } from "./aqi.js";
import { AreaChart } from "./chart.js";
import {
  areaName, formatClock, formatTime, formatValue, getLang, levelLabel, quantityLabel, setLang, t,
  unitLabel,
} from "./i18n.js";
import { LiveState } from "./state.js";

const state = new LiveState();
const $ = (id) => document.getElementById(id);
let chart = null;
let socket = null;
let attempt = 0;
let renderQueued = false;
let channels = [];
const flashing = new Set();

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setConn(stateName) {
  const pill = $("conn");
  pill.dataset.state = stateName;
  pill.textContent = t(`conn_${stateName}`);
}

function renderLegend() {
  const legend = $("legend");
  legend.replaceChildren(el("span", "legend-title", "PM2.5"));
  for (const c of PM25_CATEGORIES) {
    const chip = el("span", `chip aqi-${c.key}`, getLang() === "en" ? c.en : c.vi);
    legend.append(chip);
  }
}

function readingRow(r) {
  const row = el("div", "reading");
  row.dataset.sensor = r.sensor_id;
  row.dataset.quantity = r.quantity;
  const cat = r.quantity === "pm25" ? pm25Category(r.value) : null;
  if (cat) row.classList.add("aqi", `aqi-${cat.key}`);
  const label = el("span", "q", quantityLabel(r.quantity));
  const value = el("span", "value", formatValue(r.value));
  const unit = el("span", "unit", unitLabel(r.unit));
  const meta = el("span", "time", formatTime(r.time));
  if (cat) meta.textContent = `${getLang() === "en" ? cat.en : cat.vi} · ${formatTime(r.time)}`;
  row.append(label, value, unit, meta);
  if (flashing.has(`${r.sensor_id}|${r.quantity}`)) row.classList.add("flash");
  return row;
}

function renderAreas() {
  const byArea = new Map();
  for (const r of state.latest.values()) {
    const area = r.area_id ?? state.areaOf(r.sensor_id);
    if (!byArea.has(area)) byArea.set(area, []);
    byArea.get(area).push(r);
  }
  const box = $("areas");
  if (byArea.size === 0) { box.replaceChildren(el("p", "empty", t("waiting"))); return; }
  const order = [...byArea.keys()].sort((a, b) =>
    areaName(state.areas.get(a)).localeCompare(areaName(state.areas.get(b)), "vi"));
  box.replaceChildren(...order.map((areaId) => {
    const card = el("article", "card");
    card.dataset.area = areaId ?? "";
    const rows = byArea.get(areaId).sort((a, b) =>
      (a.quantity === "pm25" ? -1 : 0) - (b.quantity === "pm25" ? -1 : 0)
      || a.quantity.localeCompare(b.quantity) || a.sensor_id.localeCompare(b.sensor_id));
    const pm = rows.find((r) => r.quantity === "pm25");
    const cat = pm ? pm25Category(pm.value) : null;
    if (cat) card.classList.add(`edge-${cat.key}`);
    card.append(el("h3", null, areaName(state.areas.get(areaId))), ...rows.map(readingRow));
    return card;
  }));
}

function renderAlerts() {
  const list = $("alerts");
  const alerts = [...state.alerts.values()].sort((a, b) =>
    (b.severity ?? 0) - (a.severity ?? 0) || new Date(b.time) - new Date(a.time));
  $("alert-count").textContent = String(alerts.length);
  $("alert-count").dataset.count = String(alerts.length);
  if (alerts.length === 0) { list.replaceChildren(el("li", "empty", t("noAlerts"))); return; }
  list.replaceChildren(...alerts.map((a) => {
    const item = el("li", `alert sev-${Math.min(5, Math.max(1, a.severity ?? 1))}`);
    item.dataset.alert = a.alert_id;
    const head = el("div", "alert-head");
    head.append(el("span", "level", levelLabel(a.level)),
      el("span", "where", areaName(state.areas.get(a.area_id ?? state.areaOf(a.sensor_id)))));
    const sensor = state.sensors.get(a.sensor_id);
    const body = el("div", "alert-body",
      `${quantityLabel(a.quantity)} ${formatValue(a.value)} (${t("peak")} ${formatValue(a.peak)}) · ${sensor?.name ?? a.sensor_id}`);
    const when = el("div", "alert-time", `${t("since")} ${formatTime(a.raised_at)}`);
    item.append(head, body, when);
    return item;
  }));
}

function renderSystem() {
  const panel = $("system-panel");
  panel.hidden = !channels.includes("system");
  if (panel.hidden) return;
  const box = $("system");
  const workers = [...state.workers.values()];
  const wBox = el("div", "sys-block");
  wBox.append(el("h3", null, t("workers")));
  if (workers.length === 0) wBox.append(el("p", "empty", t("workersNone")));
  for (const w of workers) {
    wBox.append(el("p", "worker",
      `${w.worker} · ${t("processed")} ${w.processed ?? 0} · ${t("lag")} ${w.lag ?? "–"}`));
  }
  const dBox = el("div", "sys-block");
  dBox.append(el("h3", null, t("deadletters")), el("p", "big", String(state.deadletters.count)));
  const reasons = Object.entries(state.deadletters.reasons).map(([r, n]) => `${r}: ${n}`).join(" · ");
  if (reasons) dBox.append(el("p", "reasons", reasons));
  box.replaceChildren(wBox, dBox);
}

function renderQuantityOptions() {
  const select = $("quantity");
  const current = select.value || localStorage.getItem("ioc.quantity") || "pm25";
  const qs = state.quantities();
  if (!qs.includes(current)) qs.unshift(current);
  select.replaceChildren(...qs.map((q) => {
    const opt = el("option", null, quantityLabel(q));
    opt.value = q;
    return opt;
  }));
  select.value = current;
}

function renderChart() {
  const q = $("quantity").value || "pm25";
  const sample = [...state.latest.values()].find((r) => r.quantity === q);
  chart?.update(state, q, sample?.unit ?? "");
}

function renderAll() {
  renderLegend();
  renderQuantityOptions();
  renderAreas();
  renderAlerts();
  renderSystem();
  renderChart();
}

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; renderAll(); });
}

function handle(msg) {
  switch (msg.type) {
    case "batch": for (const item of msg.items ?? []) handle(item); break;
    case "hello":
      channels = msg.channels.filter((c) => ["sensors", "alerts", "system"].includes(c));
      $("user").textContent = `${msg.user} · ${msg.role}`;
      socket.send(JSON.stringify({ type: "subscribe", channels }));
      setConn("syncing");
      break;
    case "snapshot":
      state.reset(msg);
      setConn("live");
      scheduleRender();
      break;
    case "readings":
      for (const key of state.applyReadings(msg.items ?? [])) {
        flashing.add(key);
        setTimeout(() => { flashing.delete(key); scheduleRender(); }, 1500);
      }
      scheduleRender();
      break;
    case "rollups": state.applyRollups(msg.items ?? []); scheduleRender(); break;
    case "alert": state.applyAlert(msg.event); scheduleRender(); break;
    case "heartbeat": state.applyHeartbeat(msg); scheduleRender(); break;
    case "deadletter": state.applyDeadletter(msg); scheduleRender(); break;
    case "error": console.warn("server refused a command:", msg.error, msg.message); break;
    default: break;
  }
}

function connect() {
  setConn(attempt === 0 ? "connecting" : "offline");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.addEventListener("open", () => { attempt = 0; });
  socket.addEventListener("message", (ev) => {
    try { handle(JSON.parse(ev.data)); } catch (err) { console.error(err); }
  });
  socket.addEventListener("close", (ev) => {
    if (ev.code === 4401) { location.assign(`/login?next=${encodeURIComponent("/")}`); return; }
    if (ev.code === 4403) { setConn("forbidden"); return; }
    setConn("offline");
    const delay = Math.min(15000, 500 * 2 ** attempt++) * (0.75 + Math.random() * 0.5);
    setTimeout(connect, delay);
  });
}

function start() {
  setLang(getLang());
  $("lang").textContent = getLang() === "vi" ? "EN" : "VI";
  $("lang").addEventListener("click", () => {
    setLang(getLang() === "vi" ? "en" : "vi");
    $("lang").textContent = getLang() === "vi" ? "EN" : "VI";
    setConn($("conn").dataset.state);
    renderAll();
  });
  $("quantity").addEventListener("change", () => {
    localStorage.setItem("ioc.quantity", $("quantity").value);
    renderChart();
  });
  chart = new AreaChart($("chart"));
  const tick = () => { $("clock").textContent = formatClock(new Date()); };
  tick();
  setInterval(tick, 1000);
  renderAll();
  connect();
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
