// The operations wall: one websocket (auto-reconnect, snapshot resync), layout from the URL.
import { areaName, formatClock, formatTick, formatTime, getLang, setLang } from "./i18n.js";
import { applyWallText, w } from "./wall_i18n.js";
import { WallMap } from "./wall_map.js";
import { WallState } from "./wall_state.js";
import { renderAlarms, renderCameras, renderDetail, renderKpis } from "./wall_view.js";

const LAYOUTS = ["full", "map", "kpi", "alarms", "cameras"];
const WANTED = ["sensors", "alerts", "system", "alarms", "cameras", "feedback"];
const PALETTE = ["#4cc9f0", "#f72585", "#ffd166", "#06d6a0", "#f78c6b", "#b388ff", "#90be6d",
  "#ff6b6b", "#48cae4", "#e9c46a", "#c77dff", "#80ed99", "#ffafcc", "#a3c4f3", "#fb8500"];
const $ = (id) => document.getElementById(id);

const state = new WallState();
let socket = null;
let attempt = 0;
let role = "";
let health = null;
let selected = null;
let selectedExtra = null;
let renderQueued = false;
let map = null;
const series = { window: "1m", areas: new Map(), plot: null, key: "" };

function setConn(s) {
  $("conn").dataset.state = s;
  const labels = { connecting: ["Đang kết nối…", "Connecting…"], syncing: ["Đang đồng bộ…", "Synchronising…"],
    live: ["Trực tuyến", "Live"], offline: ["Mất kết nối — đang thử lại", "Disconnected — retrying"],
    forbidden: ["Không có quyền", "Not allowed"] };
  $("conn").textContent = labels[s]?.[getLang() === "en" ? 1 : 0] ?? s;
}

function schedule() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; render(); });
}

function render() {
  const canAct = role === "admin" || role === "operator";
  renderKpis($("kpis"), state, health);
  renderAlarms($("alarms"), state, { canAct, act, select });
  renderCameras($("cameras"), state, enlarge);
  const open = state.sortedAlarms();
  const unacked = open.filter((a) => !a.acknowledged).length;
  $("alarm-count").textContent = String(unacked);
  $("alarm-count").dataset.count = String(unacked);
  $("alarm-summary").textContent = `${open.length} · ${unacked} ${w("s_active_unacked").toLowerCase()}`;
  map?.render(state);
  if (selected) renderDetail($("detail-body"), state, selected, selectedExtra);
  renderChart();
}

async function act(alarm, action, body) {
  const answer = await fetch(`/api/v1/alarms/${alarm.id}/${action}`, {
    method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...body, request_id: crypto.randomUUID() }),
  });
  const doc = await answer.json().catch(() => ({}));
  if (!answer.ok) { console.warn("alarm action refused:", doc.error, doc.message); return; }
  if (state.applyAlarm({ alarm: doc.alarm })) schedule();
}

async function select(sel) {
  selected = sel;
  selectedExtra = null;
  $("detail").hidden = false;
  if (sel.kind === "alarm") {
    const answer = await fetch(`/api/v1/alarms/${sel.id}`, { credentials: "same-origin" });
    if (answer.ok) selectedExtra = await answer.json();
  }
  schedule();
}

function enlarge(id) {
  const c = state.cameras.get(id);
  if (!c?.frame) return;
  $("enlarge-img").src = `data:image/jpeg;base64,${c.frame.jpeg_b64}`;
  $("enlarge-cap").textContent = `${c.info?.name ?? id} · ${formatTime(c.frame.time)}`;
  $("enlarge").showModal();
}

// --- chart: rollup series from TimescaleDB, live appending from "rollups" messages -------
async function loadSeries() {
  const span = series.window === "1m" ? 360 : 168;
  const answer = await fetch(`/api/v1/wall/series?quantity=pm25&window=${series.window}&span=${span}`,
    { credentials: "same-origin" });
  if (!answer.ok) return;
  const doc = await answer.json();
  series.areas = new Map(doc.series.map((s) => [s.area_id, new Map(s.points.map(([t, v]) => [t, v]))]));
  series.key = "";
  schedule();
}

function appendRollups(items) {
  if (series.window !== "1m") return;
  for (const r of items) {
    if (r.quantity !== "pm25") continue;
    const t = Date.parse(r.bucket) / 1000;
    const points = series.areas.get(String(r.area_id)) ?? new Map();
    points.set(t, r.mean ?? (r.count ? r.sum / r.count : null));
    series.areas.set(String(r.area_id), points);
  }
}

function renderChart() {
  const box = $("chart");
  if (!window.uPlot || box.offsetParent === null) return;
  const ids = [...series.areas.keys()].sort();
  if (!ids.length) { series.plot?.destroy(); series.plot = null; box.textContent = w("noData"); return; }
  const times = [...new Set(ids.flatMap((id) => [...series.areas.get(id).keys()]))].sort((a, b) => a - b);
  const data = [times, ...ids.map((id) => times.map((t) => series.areas.get(id).get(t) ?? null))];
  const key = `${ids.join(",")}|${getLang()}|${series.window}`;
  const size = { width: Math.max(300, box.clientWidth), height: Math.max(160, box.clientHeight - 40) };
  if (series.plot && key === series.key) { series.plot.setData(data); return; }
  series.plot?.destroy();
  box.textContent = "";
  series.key = key;
  const axis = { stroke: "#c9d6e3", grid: { stroke: "rgba(159,179,200,0.15)" }, font: "15px sans-serif" };
  series.plot = new window.uPlot({
    ...size, scales: { x: { time: true } }, legend: { show: true },
    axes: [{ ...axis, values: (u, ticks) => ticks.map((v, i) => formatTick(v, i === 0)) }, { ...axis, size: 60 }],
    series: [{}, ...ids.map((id, i) => ({ label: areaName(state.areas.get(id)) || id,
      stroke: PALETTE[i % PALETTE.length], width: 2.5, spanGaps: true, points: { show: false } }))],
  }, data, box);
}

// --- websocket -------------------------------------------------------------------------
function handle(msg) {
  const t = msg.type;
  if (t === "batch") { for (const m of msg.items ?? []) handle(m); return; }
  if (t === "hello") {
    role = msg.role;
    $("user").textContent = `${msg.user} · ${msg.role}`;
    document.body.dataset.role = msg.role;
    socket.send(JSON.stringify({ type: "subscribe", channels: WANTED.filter((c) => msg.channels.includes(c)) }));
    setConn("syncing");
    return;
  }
  if (t === "snapshot") { state.reset(msg); setConn("live"); loadSeries(); schedule(); return; }
  if (t === "readings") state.applyReadings(msg.items ?? []);
  else if (t === "rollups") appendRollups(msg.items ?? []);
  else if (t === "alert") state.applyAlert(msg.event);
  else if (t === "heartbeat") state.applyHeartbeat(msg);
  else if (t.startsWith("alarm.")) {
    if (!state.applyAlarm(msg)) return;
    if (selected?.kind === "alarm" && selected.id === msg.alarm.id) select(selected);
  } else if (t === "camera") state.applyCamera(msg);
  else if (t === "camera_frame") state.applyFrame(msg);
  else if (t === "camera_counts") state.applyCounts(msg);
  else if (t === "camera_violation") state.applyViolation(msg);
  else if (t === "camera_violation_withdrawn") state.withdrawViolation(msg);
  else if (t === "feedback.kpi") state.feedbackKpi = msg;
  else if (t === "error") { console.warn("server refused a command:", msg.error); return; }
  else return;
  schedule();
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
    const here = `${location.pathname}${location.search}`;
    if (ev.code === 4401) { location.assign(`/login?next=${encodeURIComponent(here)}`); return; }
    if (ev.code === 4403) { setConn("forbidden"); return; }
    setConn("offline");
    const delay = Math.min(10000, 500 * 2 ** attempt++) * (0.75 + Math.random() * 0.5);
    setTimeout(connect, delay);
  });
}

async function pollHealth() {
  try {
    const answer = await fetch("/healthz", { credentials: "same-origin" });
    health = await answer.json();
  } catch { health = null; }
  schedule();
}

async function initMap() {
  if (!window.L) { setTimeout(initMap, 100); return; }
  const answer = await fetch("/api/v1/wall/map", { credentials: "same-origin" });
  if (!answer.ok) { setTimeout(initMap, 3000); return; }
  const geo = await answer.json();
  map = new WallMap($("map"), select);
  map.init(geo);
  schedule();
}

function start() {
  const layout = new URLSearchParams(location.search).get("layout");
  document.body.dataset.layout = LAYOUTS.includes(layout) ? layout : "full";
  for (const a of document.querySelectorAll("[data-layout-link]")) {
    a.classList.toggle("on", a.dataset.layoutLink === document.body.dataset.layout);
  }
  setLang(getLang());
  applyWallText();
  $("lang").textContent = getLang() === "vi" ? "EN" : "VI";
  $("lang").addEventListener("click", () => {
    setLang(getLang() === "vi" ? "en" : "vi");
    applyWallText();
    $("lang").textContent = getLang() === "vi" ? "EN" : "VI";
    setConn($("conn").dataset.state);
    series.key = "";
    schedule();
  });
  $("fullscreen").addEventListener("click", () => document.documentElement.requestFullscreen?.());
  $("detail-close").addEventListener("click", () => { selected = null; $("detail").hidden = true; });
  $("chart-window").addEventListener("change", (ev) => { series.window = ev.target.value; loadSeries(); });
  const tick = () => { $("clock").textContent = formatClock(new Date()); };
  tick();
  setInterval(tick, 1000);
  setInterval(pollHealth, 10000);
  setInterval(schedule, 30000); // "last hour" windows move on even without messages
  pollHealth();
  initMap();
  connect();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
