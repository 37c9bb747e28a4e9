// Rolling per-area chart with uPlot (vendored, window.uPlot). Recreated only when the set of
// areas changes; otherwise new points are appended with setData (cheap, no flicker).

import { areaName, formatTick, formatTime, formatValue, t, unitLabel } from "./i18n.js";

const PALETTE = ["#4cc9f0", "#f72585", "#ffd166", "#06d6a0", "#f78c6b", "#b388ff",
  "#90be6d", "#ff6b6b", "#48cae4", "#e9c46a", "#c77dff", "#80ed99", "#ffafcc", "#a3c4f3", "#fb8500"];

export class AreaChart {
  constructor(el) {
    this.el = el;
    this.plot = null;
    this.key = "";
    new ResizeObserver(() => this.resize()).observe(el);
  }

  size() { return { width: Math.max(300, this.el.clientWidth), height: 300 }; }

  resize() { if (this.plot) this.plot.setSize(this.size()); }

  update(state, quantity, unit) {
    const { areaIds, data } = state.chartData(quantity);
    const key = `${quantity}|${areaIds.join(",")}|${document.documentElement.lang}`;
    if (!window.uPlot) return;
    if (areaIds.length === 0) {
      this.destroy();
      this.el.dataset.empty = "true";
      this.el.textContent = t("noData");
      return;
    }
    delete this.el.dataset.empty;
    if (key !== this.key || !this.plot) {
      this.destroy();
      this.el.textContent = "";
      this.key = key;
      this.plot = new window.uPlot(this.options(state, areaIds, unit), data, this.el);
    } else {
      this.plot.setData(data);
    }
  }

  destroy() { if (this.plot) { this.plot.destroy(); this.plot = null; this.key = ""; } }

  options(state, areaIds, unit) {
    const axis = { stroke: "#9fb3c8", grid: { stroke: "rgba(159,179,200,0.12)" },
      ticks: { stroke: "rgba(159,179,200,0.25)" } };
    return {
      ...this.size(),
      scales: { x: { time: true } },
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      axes: [
        { ...axis, values: (u, ticks) => ticks.map((v, i) => formatTick(v, i === 0)) },
        { ...axis, size: 56, label: unitLabel(unit), labelSize: 18 },
      ],
      series: [
        { label: t("time"), value: (u, v) => (v == null ? "–" : formatTime(v * 1000)) },
        ...areaIds.map((id, i) => ({
          label: areaName(state.areas.get(id)),
          stroke: PALETTE[i % PALETTE.length],
          width: 2,
          spanGaps: true,
          points: { show: false },
          value: (u, v) => (v == null ? "–" : formatValue(v)),
        })),
      ],
    };
  }
}
