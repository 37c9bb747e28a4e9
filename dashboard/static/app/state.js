// The page's view of the city: replaced by every snapshot, then patched by live messages.
// Updates are idempotent and keep the newest by time, so a message seen both in a snapshot
// and live (or twice after a resync) changes nothing.

const WINDOW_S = 60 * 60;

export class LiveState {
  constructor() { this.reset({}); this.deadletters = { count: 0, reasons: {} }; }

  reset(snap) {
    this.areas = new Map((snap.areas ?? []).map((a) => [a.id, a]));
    this.sensors = new Map((snap.sensors ?? []).map((s) => [s.id, s]));
    this.latest = new Map();
    for (const r of snap.latest ?? []) this.latest.set(`${r.sensor_id}|${r.quantity}`, r);
    this.rollups = new Map(); // quantity -> area -> Map(bucketSeconds -> mean)
    this.newestBucket = 0;
    this.applyRollups(snap.rollups ?? []);
    this.alerts = new Map((snap.alerts ?? []).map((a) => [a.alert_id, a]));
    this.workers = new Map((snap.workers ?? []).map((w) => [w.worker, { ...w, seen: Date.now() }]));
  }

  areaOf(sensorId, fallback) {
    return this.sensors.get(sensorId)?.area_id ?? fallback ?? null;
  }

  applyReadings(items) {
    const changed = [];
    for (const r of items) {
      const key = `${r.sensor_id}|${r.quantity}`;
      const old = this.latest.get(key);
      if (old && new Date(old.time) > new Date(r.time)) continue;
      this.latest.set(key, { ...r, area_id: r.area_id ?? this.areaOf(r.sensor_id) });
      changed.push(key);
    }
    return changed;
  }

  applyRollups(items) {
    for (const r of items) {
      const t = Math.floor(new Date(r.bucket).getTime() / 1000);
      if (!Number.isFinite(t) || r.mean == null) continue;
      let byArea = this.rollups.get(r.quantity);
      if (!byArea) this.rollups.set(r.quantity, (byArea = new Map()));
      let series = byArea.get(r.area_id);
      if (!series) byArea.set(r.area_id, (series = new Map()));
      series.set(t, r.mean);
      if (t > this.newestBucket) this.newestBucket = t;
    }
    this.prune();
  }

  prune() {
    const cutoff = this.newestBucket - WINDOW_S;
    for (const byArea of this.rollups.values()) {
      for (const series of byArea.values()) {
        for (const t of series.keys()) if (t <= cutoff) series.delete(t);
      }
    }
  }

  applyAlert(ev) {
    if (ev.kind === "cleared") { this.alerts.delete(ev.alert_id); return; }
    this.alerts.set(ev.alert_id, { ...ev, area_id: ev.area_id ?? this.areaOf(ev.sensor_id) });
  }

  applyHeartbeat(msg) { this.workers.set(msg.worker, { ...msg, seen: Date.now() }); }

  applyDeadletter(msg) {
    this.deadletters.count += msg.count ?? 0;
    for (const [reason, n] of Object.entries(msg.reasons ?? {})) {
      this.deadletters.reasons[reason] = (this.deadletters.reasons[reason] ?? 0) + n;
    }
  }

  quantities() {
    const qs = new Set(this.rollups.keys());
    for (const r of this.latest.values()) qs.add(r.quantity);
    return [...qs].sort();
  }

  // Aligned columns for uPlot: [times, series per area] for one quantity.
  chartData(quantity) {
    const byArea = this.rollups.get(quantity) ?? new Map();
    const areaIds = [...byArea.keys()].filter((a) => byArea.get(a).size > 0).sort();
    const times = new Set();
    for (const a of areaIds) for (const t of byArea.get(a).keys()) times.add(t);
    const xs = [...times].sort((a, b) => a - b);
    const columns = areaIds.map((a) => xs.map((t) => byArea.get(a).get(t) ?? null));
    return { areaIds, data: [xs, ...columns] };
  }
}
