// Rendering of the wall's panels: KPI tiles, the alarm list, camera tiles, the detail panel.
// Every value is set with textContent (never innerHTML with data).
import { pm25Category } from "./aqi.js";
import { areaName, formatTime, formatValue, levelLabel, quantityLabel, unitLabel } from "./i18n.js";
import { w } from "./wall_i18n.js";

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}

function tile(key, title, level, main, sub, extra) {
  return el("div", { class: `tile lvl-${level}`, "data-kpi": key },
    el("div", { class: "tile-title", text: title }),
    el("div", { class: "tile-main", text: main }),
    sub ? el("div", { class: "tile-sub", text: sub }) : null, extra ?? null);
}

function noData(key, title) { return tile(key, title, "none", w("noData"), null); }

// --- KPI tiles (declarative: each returns one or more tiles) -------------------------
const KPIS = [
  (s) => {
    const values = s.areaValues("pm25");
    if (values.size === 0) return [noData("aqi", w("aqiArea"))];
    return [...values].sort((a, b) => b[1] - a[1]).map(([area, v]) => {
      const cat = pm25Category(v);
      const t = tile(`aqi-${area}`, `AQI · ${areaName(s.areas.get(area))}`,
        "aqi", formatValue(v), `${cat ? cat[document.documentElement.lang === "en" ? "en" : "vi"] : ""} · µg/m³`);
      t.dataset.area = area;
      if (cat) { t.style.setProperty("--tile-accent", cat.color); t.dataset.category = cat.key; }
      return t;
    });
  },
  (s) => {
    if (!s.hasQuantity("water_level") && !s.hasQuantity("rainfall")) return [noData("flood", w("flood"))];
    const n = s.alertsOf(["water_level", "rainfall"]);
    return [tile("flood", w("flood"), n ? "bad" : "ok", String(n), w("alertsActive"))];
  },
  (s) => {
    if (!s.hasQuantity("noise")) return [noData("noise", w("noise"))];
    const n = s.alertsOf(["noise"]);
    return [tile("noise", w("noise"), n ? "warn" : "ok", String(n), w("alertsActive"))];
  },
  (s) => {
    const flows = [...s.latest.values()].filter((r) => r.quantity === "traffic_flow");
    const counts = [...s.counts.values()];
    if (!flows.length && !counts.length) return [noData("traffic", w("traffic"))];
    const total = flows.reduce((a, r) => a + r.value, 0) + counts.reduce((a, c) => a + (c.total ?? 0) * 60, 0);
    const sub = [...flows.map((r) => `${s.sensors.get(r.sensor_id)?.name?.split(" (")[0] ?? r.sensor_id}: ${formatValue(r.value)}`),
      ...counts.map((c) => `${c.camera_id}: ${formatValue((c.total ?? 0) * 60)}`)].slice(0, 3).join(" · ");
    return [tile("traffic", w("traffic"), "info", `${formatValue(total)} ${w("perHour")}`, sub)];
  },
  (s) => {
    if (s.cameras.size === 0) return [noData("violations", w("violations"))];
    const per = [...s.cameras.keys()].map((id) => [id, s.violationsLastHour(id)]).sort((a, b) => b[1] - a[1]);
    const total = per.reduce((a, [, n]) => a + n, 0);
    return [tile("violations", w("violations"), total > 50 ? "bad" : total > 10 ? "warn" : "ok", String(total),
      per.slice(0, 3).map(([id, n]) => `${s.cameras.get(id)?.info?.name ?? id}: ${n}`).join(" · "))];
  },
  (s) => {
    const k = s.feedbackKpi?.overall;
    if (!k) return [noData("reports", w("reports"))];
    const rate = typeof k.on_time_rate === "number" ? `${Math.round(k.on_time_rate * 100)} %` : "–";
    const level = k.overdue > 0 ? (k.on_time_rate != null && k.on_time_rate < 0.8 ? "bad" : "warn") : "ok";
    return [tile("reports", w("reports"), level, `${k.open} ${w("open")}`,
      `${k.overdue} ${w("overdue")} · ${rate} ${w("onTime")}`)];
  },
  (s, health) => {
    const rate = s.ingestRate();
    const lag = s.maxLag() ?? health?.components?.lag?.total ?? null;
    const fps = [...s.cameras.values()].map((c) => c.health?.processed_fps).filter((x) => typeof x === "number");
    const db = health?.components?.database?.status ?? (health ? health.status : null);
    const out = [
      rate == null ? noData("ingest", w("ingest"))
        : tile("ingest", w("ingest"), "info", formatValue(rate), w("perSec")),
      lag == null ? noData("lag", w("lag"))
        : tile("lag", w("lag"), lag > 10000 ? "bad" : lag > 1000 ? "warn" : "ok", String(Math.round(lag)), "msg"),
      fps.length ? tile("fps", w("fps"), Math.min(...fps) < 2 ? "warn" : "ok",
        formatValue(fps.reduce((a, b) => a + b, 0) / fps.length), `${fps.length} ${w("cams")}`)
        : noData("fps", w("fps")),
      db == null ? noData("db", w("db"))
        : tile("db", w("db"), db === "ok" ? "ok" : "bad", db === "ok" ? "OK" : String(db).toUpperCase(),
          health?.components?.database?.latency_ms != null ? `${formatValue(health.components.database.latency_ms)} ms` : null),
    ];
    return out;
  },
];

export function renderKpis(root, state, health) {
  const tiles = KPIS.flatMap((f) => f(state, health));
  root.replaceChildren(...tiles);
}

// --- alarms --------------------------------------------------------------------------
export function renderAlarms(root, state, { canAct, act, select }) {
  const alarms = state.sortedAlarms();
  if (!alarms.length) { root.replaceChildren(el("li", { class: "empty", text: w("noAlarms") })); return; }
  root.replaceChildren(...alarms.slice(0, 60).map((a) => {
    const area = a.area_id ? areaName(state.areas.get(a.area_id)) : "";
    const actions = canAct ? el("div", { class: "actions" },
      a.acknowledged ? null : el("button", { class: "wbtn act-ack", type: "button", text: w("ack"),
        onclick: (ev) => { ev.stopPropagation(); act(a, "ack", {}); } }),
      el("input", { class: "note", type: "text", maxlength: "200", placeholder: `${w("assign")} / ${w("comment")}`,
        "aria-label": w("comment"), onclick: (ev) => ev.stopPropagation() }),
      el("button", { class: "wbtn act-assign", type: "button", text: w("assign"), onclick: (ev) => {
        ev.stopPropagation(); const v = ev.target.parentElement.querySelector(".note").value.trim();
        if (v) act(a, "assign", { assignee: v }); } }),
      el("button", { class: "wbtn act-comment", type: "button", text: w("comment"), onclick: (ev) => {
        ev.stopPropagation(); const v = ev.target.parentElement.querySelector(".note").value.trim();
        if (v) act(a, "comment", { text: v }); } }),
      a.active ? el("button", { class: "wbtn act-clear", type: "button", text: w("clear"),
        onclick: (ev) => { ev.stopPropagation(); act(a, "clear", {}); } }) : null) : null;
    return el("li", { class: `alarm sev-${a.severity} st-${a.state}`, "data-alarm": a.id, "data-state": a.state,
      onclick: () => select({ kind: "alarm", id: a.id }) },
      el("div", { class: "arow" },
        el("span", { class: "sev", text: `${w("sev")} ${a.severity}` }),
        el("span", { class: "akind", text: w(`k_${a.source_kind}`) }),
        el("span", { class: "astate", text: w(`s_${a.state}`) })),
      el("div", { class: "atitle", text: alarmTitle(a, state) }),
      el("div", { class: "ameta", text: [area, formatTime(a.raised_at),
        a.acked_by ? `✓ ${a.acked_by}` : null, a.assignee ? `→ ${a.assignee}` : null].filter(Boolean).join(" · ") }),
      actions);
  }));
}

export function alarmTitle(a, state) {
  const d = a.detail ?? {};
  if (a.source_kind === "sensor_alert" && d.quantity) {
    const sensor = state.sensors.get(d.sensor_id);
    const value = typeof d.value === "number" ? ` ${formatValue(d.value)}` : "";
    return `${quantityLabel(d.quantity)} · ${levelLabel(d.level)}${value} — ${sensor?.name?.split(" (")[0] ?? d.sensor_id}`;
  }
  if (a.source_kind === "camera_fault") {
    const cam = state.cameras.get(d.camera_id);
    const named = d.fault === "offline" || d.fault === "stream_frozen" || String(d.fault).startsWith("view_");
    const fault = named ? w(d.fault) : w("k_camera_fault");
    return `${fault} — ${cam?.info?.name ?? a.title}`;
  }
  if (a.source_kind === "violation_surge") {
    const cam = state.cameras.get(d.camera_id);
    return `${w("k_violation_surge")}: ${d.violations ?? ""} — ${cam?.info?.name ?? d.camera_id}`;
  }
  if (a.source_kind === "feedback_overdue") {
    return `${w("k_feedback_overdue")}: ${d.service_code ?? ""} · ${d.department ?? ""} (#${a.source_ref})`;
  }
  return a.title;
}

// --- cameras -------------------------------------------------------------------------
export function renderCameras(root, state, enlarge) {
  const cams = [...state.cameras.entries()];
  if (!cams.length) { root.replaceChildren(el("p", { class: "empty", text: w("noCameras") })); return; }
  const have = new Map([...root.querySelectorAll("[data-camera]")].map((n) => [n.dataset.camera, n]));
  const nodes = cams.map(([id, c]) => {
    let node = have.get(id);
    if (!node) {
      node = el("figure", { class: "cam", "data-camera": id, onclick: () => enlarge(id) },
        el("img", { alt: id }), el("figcaption", {}, el("span", { class: "cname" }), el("span", { class: "cstat" })));
    }
    const h = c.health;
    const ok = h ? h.connected && !h.error && !badView(h) : null;
    node.classList.toggle("down", ok === false);
    node.classList.toggle("behind", ok === true && behind(h));
    node.querySelector(".cname").textContent = c.info?.name ?? id;
    node.querySelector(".cstat").textContent = h ? cameraStatus(h) : w("noData");
    const img = node.querySelector("img");
    if (c.frame && img.dataset.t !== c.frame.time) {
      img.src = `data:image/jpeg;base64,${c.frame.jpeg_b64}`; img.dataset.t = c.frame.time;
    }
    return node;
  });
  root.replaceChildren(...nodes);
}

// a camera whose view check finds it moved or covered judges nothing (vision/view.py),
// nor one whose picture froze while its stream goes on (vision/freeze.py)
function badView(h) {
  return h.view === "moved" || h.view === "obstructed" || h.frozen === true;
}

// a camera ticking well below the rate it is meant to (health target_fps: its detect_fps
// after the cap): its host is short of CPU, and it sees its vehicles at fewer points
function behind(h) {
  const target = h.target_fps, done = h.processed_fps ?? 0;
  return h.connected && typeof target === "number" && target > 0 && done > 0 && done < 0.8 * target;
}

function cameraStatus(h) {
  const bad = h.frozen === true ? w("stream_frozen") : w(`view_${h.view}`);
  const state = !h.connected ? w("offline") : badView(h) ? bad : behind(h) ? w("behind") : w("online");
  const target = typeof h.target_fps === "number" ? ` / ${formatValue(h.target_fps)}` : "";
  return `${state} · ${formatValue(h.processed_fps ?? 0)}${target} fps`;
}

// --- detail panel --------------------------------------------------------------------
export function renderDetail(root, state, sel, extra) {
  const rows = [];
  if (sel.kind === "sensor") {
    const s = state.sensors.get(sel.id);
    rows.push(el("h3", { text: s?.name ?? sel.id }), el("p", { class: "muted", text: `${w("area")}: ${areaName(state.areas.get(String(s?.area_id)))}` }));
    rows.push(el("h4", { text: w("latest") }));
    for (const r of [...state.latest.values()].filter((x) => x.sensor_id === sel.id)) {
      rows.push(el("div", { class: "kv", "data-quantity": r.quantity },
        el("span", { text: quantityLabel(r.quantity) }),
        el("b", { text: `${formatValue(r.value)} ${unitLabel(r.unit)}` }),
        el("small", { text: formatTime(r.time) })));
    }
    rows.push(el("a", { href: `/api/v1/wall/series?quantity=pm25&window=1h&span=168`, target: "_blank", text: w("historyLink") }));
  } else if (sel.kind === "camera") {
    const c = state.cameras.get(sel.id);
    rows.push(el("h3", { text: c?.info?.name ?? sel.id }));
    const h = c?.health;
    rows.push(el("p", { text: h ? `${cameraStatus(h)} · lag ${formatValue(h.lag_s)} s` : w("noData") }));
    rows.push(el("p", { text: `${w("violations")}: ${state.violationsLastHour(sel.id)}` }));
  } else if (sel.kind === "area") {
    const a = state.areas.get(sel.id);
    rows.push(el("h3", { text: areaName(a) }));
    const v = state.areaValues("pm25").get(sel.id);
    const cat = pm25Category(v);
    rows.push(el("p", { text: v == null ? `PM2.5: ${w("noData")}` : `PM2.5 ${formatValue(v)} µg/m³ · ${cat?.[document.documentElement.lang === "en" ? "en" : "vi"] ?? ""}` }));
    rows.push(el("a", { href: `/api/v1/wall/series?quantity=pm25&window=1h&span=168`, target: "_blank", text: w("historyLink") }));
  } else if (sel.kind === "alarm") {
    const a = state.alarms.get(sel.id) ?? extra?.alarm;
    if (a) {
      rows.push(el("h3", { text: alarmTitle(a, state) }), el("p", { text: `${w(`k_${a.source_kind}`)} · ${w("sev")} ${a.severity} · ${w(`s_${a.state}`)}` }));
      if (a.assignee) rows.push(el("p", { text: `${w("assignee")}: ${a.assignee}` }));
    }
    rows.push(el("h4", { text: w("history") }));
    for (const e of extra?.history ?? []) {
      rows.push(el("div", { class: "kv", "data-event": e.kind }, el("span", { text: w(`e_${e.kind}`) }), el("b", { text: e.text ?? "" }),
        el("small", { text: `${formatTime(e.time)} · ${e.actor}` })));
    }
    rows.push(el("a", { href: `/api/v1/alarms/${sel.id}`, target: "_blank", text: w("historyLink") }));
  }
  root.replaceChildren(...rows);
}
