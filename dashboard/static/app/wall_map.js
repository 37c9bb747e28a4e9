// The city map (Leaflet, vendored): district shapes from the city's GeoJSON, no internet
// needed; an optional tile layer when the server has a tile URL. Layers: sensors coloured by
// state, cameras by health, citizen reports, active alarms.
import { PM25_CATEGORIES, pm25Category } from "./aqi.js";
import { areaName } from "./i18n.js";
import { w } from "./wall_i18n.js";

const MAINLAND = [[20.5979, 106.4009], [21.0212, 106.8183]];

export class WallMap {
  constructor(el, onSelect) {
    this.el = el;
    this.onSelect = onSelect;
    this.map = null;
    this.areaLayer = null;
    this.markers = { sensors: new Map(), cameras: new Map(), alarms: new Map() };
    this.geo = null;
  }

  init(geo) {
    const L = window.L;
    if (!L || this.map) return;
    this.geo = geo;
    this.map = L.map(this.el, { zoomSnap: 0.25, attributionControl: !!geo.tile_url,
      preferCanvas: false, zoomControl: true });
    if (geo.tile_url) {
      L.tileLayer(geo.tile_url, { maxZoom: 18, attribution: "tiles" }).addTo(this.map);
    }
    this.groups = {
      sensors: L.layerGroup().addTo(this.map),
      cameras: L.layerGroup().addTo(this.map),
      reports: L.layerGroup().addTo(this.map),
      alarms: L.layerGroup().addTo(this.map),
    };
    if (geo.areas) {
      this.areaLayer = L.geoJSON(geo.areas, {
        style: () => ({ color: "#5b7a99", weight: 1.2, fillColor: "#1b3350", fillOpacity: 0.55,
          className: "area-shape" }),
        onEachFeature: (f, layer) => {
          layer.on("click", () => this.onSelect({ kind: "area", id: String(f.id ?? f.properties.level2_id) }));
        },
      }).addTo(this.map);
      this.labels = L.layerGroup().addTo(this.map);
    }
    this.layerControl();
    this.legend = L.control({ position: "bottomleft" });
    this.legend.onAdd = () => { this.legendEl = L.DomUtil.create("div", "map-legend"); return this.legendEl; };
    this.legend.addTo(this.map);
    this.map.fitBounds(MAINLAND);
    new ResizeObserver(() => this.map.invalidateSize()).observe(this.el);
    for (const s of geo.sensors ?? []) this.positions(s);
    for (const c of geo.cameras ?? []) this.positions(c, "camera");
  }

  layerControl() {
    this.control?.remove();
    this.control = window.L.control.layers(null, {
      [w("layerSensors")]: this.groups.sensors, [w("layerCameras")]: this.groups.cameras,
      [w("layerReports")]: this.groups.reports, [w("layerAlarms")]: this.groups.alarms,
    }, { collapsed: false, position: "topright" }).addTo(this.map);
  }

  positions(item, kind = "sensor") {
    this.pos = this.pos ?? new Map();
    if (item.lat != null && item.lon != null) this.pos.set(`${kind}:${item.id}`, [item.lat, item.lon]);
  }

  areaCentre(areaId) {
    const f = this.geo?.areas?.features?.find((x) => String(x.id) === String(areaId));
    return f ? [f.properties.label_lat ?? f.properties.centroid_lat, f.properties.label_lon ?? f.properties.centroid_lon] : null;
  }

  renderLegend(state) {
    if (!this.legendEl) return;
    const lang = document.documentElement.lang === "en" ? "en" : "vi";
    const rows = PM25_CATEGORIES.map((c) => {
      const row = document.createElement("div");
      const dot = document.createElement("i");
      dot.style.background = c.color;
      row.append(dot, c[lang]);
      return row;
    });
    const title = document.createElement("b");
    title.textContent = w("legend");
    const note = document.createElement("div");
    note.className = "note";
    note.dataset.layerNote = "reports";
    note.textContent = state.reports?.size ? "" : w("reportsNoData");
    this.legendEl.replaceChildren(title, ...rows, note);
  }

  render(state) {
    const L = window.L;
    if (!this.map || !L) return;
    this.renderLegend(state);
    const pm = state.areaValues("pm25");
    if (this.areaLayer) {
      this.areaLayer.eachLayer((layer) => {
        const id = String(layer.feature.id ?? layer.feature.properties.level2_id);
        const cat = pm25Category(pm.get(id));
        layer.setStyle({ fillColor: cat ? cat.color : "#1b3350", fillOpacity: cat ? 0.35 : 0.55 });
      });
      const lang = document.documentElement.lang;
      if (this.labelLang === lang) { this.renderSensors(state); this.renderCameras(state); this.renderAlarms(state); return; }
      this.labelLang = lang;
      this.layerControl();
      this.labels.clearLayers();
      for (const f of this.geo.areas.features) {
        const p = f.properties;
        const area = state.areas.get(String(f.id)) ?? { name: p.name_en, name_vi: p.name_vi };
        L.marker([p.label_lat ?? p.centroid_lat, p.label_lon ?? p.centroid_lon], {
          interactive: false, icon: L.divIcon({ className: "area-label", html: "", iconSize: null }),
        }).bindTooltip(areaName(area), { permanent: true, direction: "center", className: "area-tip" })
          .addTo(this.labels);
      }
    }
    this.renderSensors(state);
    this.renderCameras(state);
    this.renderAlarms(state);
  }

  renderSensors(state) {
    const L = window.L;
    const alerting = new Set([...state.alerts.values()].map((a) => a.sensor_id));
    for (const s of state.sensors.values()) {
      const at = this.pos?.get(`sensor:${s.id}`) ?? (s.lat != null ? [s.lat, s.lon] : null);
      if (!at) continue;
      const pm = state.latest.get(`${s.id}|pm25`);
      const cat = pm ? pm25Category(pm.value) : null;
      const fill = cat ? cat.color : (s.kind === "air_quality" ? "#667" : "#4cc9f0");
      let m = this.markers.sensors.get(s.id);
      if (!m) {
        m = L.circleMarker(at, { radius: 11, weight: 3 }).addTo(this.groups.sensors);
        m.on("click", () => this.onSelect({ kind: "sensor", id: s.id }));
        this.markers.sensors.set(s.id, m);
      }
      m.setStyle({ fillColor: fill, fillOpacity: 0.95, color: alerting.has(s.id) ? "#ff4d4f" : "#0b1622" });
      m.getElement()?.setAttribute("data-sensor-marker", s.id);
    }
  }

  renderCameras(state) {
    const L = window.L;
    for (const [id, c] of state.cameras) {
      const at = this.pos?.get(`camera:${id}`) ?? (c.info.lat != null ? [c.info.lat, c.info.lon] : null);
      if (!at) continue;
      const h = c.health;
      const cls = !h ? "cam-unknown" : h.connected && !h.error ? "cam-ok" : "cam-bad";
      let m = this.markers.cameras.get(id);
      if (!m) {
        m = L.marker(at, { icon: L.divIcon({ className: "cam-icon", html: "📷", iconSize: [30, 30] }) })
          .addTo(this.groups.cameras);
        m.on("click", () => this.onSelect({ kind: "camera", id }));
        this.markers.cameras.set(id, m);
      }
      const el = m.getElement();
      if (el) el.className = `leaflet-marker-icon cam-icon ${cls} leaflet-interactive`;
    }
  }

  renderAlarms(state) {
    const L = window.L;
    const seen = new Set();
    for (const a of state.alarms.values()) {
      if (!a.active) continue;
      const d = a.detail ?? {};
      const at = (d.sensor_id && this.pos?.get(`sensor:${d.sensor_id}`))
        || (d.camera_id && this.pos?.get(`camera:${d.camera_id}`))
        || (a.area_id && this.areaCentre(a.area_id));
      if (!at) continue;
      seen.add(a.id);
      let m = this.markers.alarms.get(a.id);
      if (!m) {
        m = L.marker(at, { icon: L.divIcon({ className: "alarm-pin", html: "<span></span>", iconSize: [44, 44] }),
          keyboard: false }).addTo(this.groups.alarms);
        m.on("click", () => this.onSelect({ kind: "alarm", id: a.id }));
        this.markers.alarms.set(a.id, m);
      }
      m.getElement()?.classList.toggle("acked", a.acknowledged);
      m.getElement()?.setAttribute("data-sev", a.severity);
    }
    for (const [id, m] of this.markers.alarms) {
      if (!seen.has(id)) { m.remove(); this.markers.alarms.delete(id); }
    }
  }
}
