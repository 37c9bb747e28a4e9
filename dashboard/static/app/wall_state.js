// The wall's state: what the snapshot gave, updated by live messages. No DOM here.

const HOUR_MS = 3600 * 1000;

export class WallState {
  constructor() { this.reset({}); this.workerSamples = new Map(); this.health = null; }

  reset(snap) {
    this.areas = new Map((snap.areas ?? []).map((a) => [String(a.id), a]));
    this.sensors = new Map((snap.sensors ?? []).map((s) => [s.id, s]));
    this.latest = new Map();
    for (const r of snap.latest ?? []) this.latest.set(`${r.sensor_id}|${r.quantity}`, r);
    this.alerts = new Map((snap.alerts ?? []).map((a) => [a.alert_id, a]));
    this.alarms = new Map();
    for (const a of snap.alarms ?? []) this.alarms.set(a.id, a);
    this.cameras = new Map();
    for (const c of snap.cameras ?? []) this.cameras.set(c.id, { info: c });
    this.violations = new Map();
    const now = Date.now();
    for (const v of snap.violations_hour ?? []) {
      // counts of the last hour from the database, spread as one bucket "now"
      this.violations.set(v.camera_id, Array.from({ length: v.count }, () => ({ id: null, at: now })));
    }
    this.feedbackKpi = this.feedbackKpi ?? null;
    this.workers = new Map((snap.workers ?? []).map((w) => [w.worker, w]));
    this.counts = new Map();
  }

  camera(id) {
    if (!this.cameras.has(id)) this.cameras.set(id, { info: { id, name: id } });
    return this.cameras.get(id);
  }

  applyReadings(items) {
    const keys = [];
    for (const r of items) {
      const key = `${r.sensor_id}|${r.quantity}`;
      const old = this.latest.get(key);
      if (!old || old.time <= r.time) { this.latest.set(key, { ...old, ...r }); keys.push(key); }
    }
    return keys;
  }

  applyAlert(ev) {
    if (!ev?.alert_id) return;
    if (ev.kind === "cleared") this.alerts.delete(ev.alert_id);
    else this.alerts.set(ev.alert_id, { ...ev, peak: ev.peak });
  }

  // Alarm messages arrive from the local hub and again through the topic: newest version wins.
  applyAlarm(msg) {
    const a = msg.alarm;
    if (!a?.id) return false;
    const known = this.alarms.get(a.id);
    if (known && known.version >= a.version) return false;
    if (a.state === "closed") this.alarms.delete(a.id); else this.alarms.set(a.id, a);
    return true;
  }

  applyCamera(msg) { const c = this.camera(msg.camera_id); c.health = msg; c.seen = Date.now(); }

  applyFrame(msg) { const c = this.camera(msg.camera_id); c.frame = msg; c.seen = Date.now(); }

  applyCounts(msg) { this.counts.set(msg.camera_id, msg); }

  applyViolation(msg) {
    const list = this.violations.get(msg.camera_id) ?? [];
    list.push({ id: msg.event_id ?? null, at: Date.now() });
    this.violations.set(msg.camera_id, list);
  }

  // a violation judged just before its camera's view was found moved is taken back
  withdrawViolation(msg) {
    const list = this.violations.get(msg.camera_id) ?? [];
    this.violations.set(msg.camera_id, list.filter((v) => v.id !== msg.event_id));
  }

  violationsLastHour(cameraId) {
    const cutoff = Date.now() - HOUR_MS;
    const list = (this.violations.get(cameraId) ?? []).filter((v) => v.at >= cutoff);
    this.violations.set(cameraId, list);
    return list.length;
  }

  applyHeartbeat(msg) {
    const prev = this.workerSamples.get(msg.worker);
    const at = Date.parse(msg.time);
    if (prev && at > prev.at) {
      msg.rate = Math.max(0, (msg.processed - prev.processed) / ((at - prev.at) / 1000));
    }
    this.workerSamples.set(msg.worker, { at, processed: msg.processed });
    this.workers.set(msg.worker, msg);
  }

  ingestRate() {
    const rates = [...this.workers.values()].map((w) => w.rate).filter((r) => typeof r === "number");
    return rates.length ? rates.reduce((a, b) => a + b, 0) : null;
  }

  maxLag() {
    const lags = [...this.workers.values()].map((w) => w.lag).filter((l) => typeof l === "number");
    return lags.length ? Math.max(...lags) : null;
  }

  // Mean latest value per area for one quantity (readings of the last 3 hours).
  areaValues(quantity) {
    const cutoff = Date.now() - 3 * HOUR_MS;
    const sums = new Map();
    for (const r of this.latest.values()) {
      if (r.quantity !== quantity || Date.parse(r.time) < cutoff) continue;
      const area = String(r.area_id ?? this.sensors.get(r.sensor_id)?.area_id ?? "");
      const s = sums.get(area) ?? { n: 0, sum: 0 };
      s.n += 1; s.sum += r.value; sums.set(area, s);
    }
    return new Map([...sums].map(([k, s]) => [k, s.sum / s.n]));
  }

  hasQuantity(quantity) {
    for (const r of this.latest.values()) if (r.quantity === quantity) return true;
    return false;
  }

  alertsOf(quantities) {
    return [...this.alerts.values()].filter((a) => quantities.includes(a.quantity)).length;
  }

  sortedAlarms() {
    const rank = { active_unacked: 0, cleared_unacked: 1, active_acked: 2 };
    return [...this.alarms.values()].sort((a, b) => (rank[a.state] - rank[b.state])
      || (b.severity - a.severity) || b.raised_at.localeCompare(a.raised_at));
  }
}
