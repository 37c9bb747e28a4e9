// Citizen report form: categories, a pin on the district map, photos, submit -> tracking code.
"use strict";
(function () {
  const VIEW = { west: 106.38, east: 107.05, south: 20.58, north: 21.05 }; // main city area
  const W = 600, H = 420;
  const $ = (id) => document.getElementById(id);
  const x = (lon) => ((lon - VIEW.west) / (VIEW.east - VIEW.west)) * W;
  const y = (lat) => ((VIEW.north - lat) / (VIEW.north - VIEW.south)) * H;
  let services = [];

  function fillServices() {
    const select = $("service_code");
    const keep = select.value;
    select.querySelectorAll("option[data-code]").forEach((o) => o.remove());
    for (const s of services) {
      const o = document.createElement("option");
      o.value = s.code; o.dataset.code = s.code;
      o.textContent = window.CZ.lang() === "en" ? s.en : s.vi;
      select.appendChild(o);
    }
    select.value = keep;
  }

  function drawMap(geo) {
    const svg = $("map");
    const NS = "http://www.w3.org/2000/svg";
    for (const f of geo.features) {
      const g = f.geometry;
      if (!g) continue;
      const polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
      let d = "";
      for (const poly of polys) for (const ring of poly) {
        if (ring.every(([lon, lat]) => lon > VIEW.east || lat < VIEW.south)) continue;
        d += "M" + ring.map(([lon, lat]) => x(lon).toFixed(1) + "," + y(lat).toFixed(1)).join("L") + "Z";
      }
      if (!d) continue;
      const p = document.createElementNS(NS, "path");
      p.setAttribute("d", d); p.setAttribute("class", "cz-area");
      const title = document.createElementNS(NS, "title");
      title.textContent = f.properties.name; p.appendChild(title);
      svg.appendChild(p);
    }
    const pin = document.createElementNS(NS, "circle");
    pin.setAttribute("id", "pin"); pin.setAttribute("r", "7"); pin.setAttribute("class", "cz-pin-dot");
    pin.setAttribute("visibility", "hidden");
    svg.appendChild(pin);
  }

  function setPin(lat, lon) {
    $("lat").value = lat.toFixed(6); $("long").value = lon.toFixed(6);
    const pin = $("pin");
    if (pin) { pin.setAttribute("cx", x(lon)); pin.setAttribute("cy", y(lat)); pin.setAttribute("visibility", "visible"); }
    $("pin-text").textContent = window.CZ.t("pinned") + " " + lat.toFixed(5) + ", " + lon.toFixed(5);
  }

  function onMapClick(ev) {
    const svg = $("map");
    const pt = svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    const p = pt.matrixTransform(svg.getScreenCTM().inverse());
    const lon = VIEW.west + (p.x / W) * (VIEW.east - VIEW.west);
    const lat = VIEW.north - (p.y / H) * (VIEW.north - VIEW.south);
    setPin(lat, lon);
  }

  async function submit(ev) {
    ev.preventDefault();
    const err = $("form-error");
    err.hidden = true;
    const button = $("submit");
    button.disabled = true;
    const original = button.textContent;
    button.textContent = window.CZ.t("sending");
    try {
      const body = new FormData($("report-form"));
      const answer = await fetch("/feedback/api/reports", { method: "POST", body });
      const doc = await answer.json();
      if (!answer.ok) {
        const key = "e_" + doc.error;
        const text = window.CZ.t(key);
        err.textContent = text === key ? (doc.message || window.CZ.t("e_generic")) : text;
        err.hidden = false;
        return;
      }
      try { localStorage.setItem("cz-token-" + doc.code, doc.token); } catch (e) { /* private mode */ }
      $("tracking-code").textContent = doc.code;
      $("status-link").href = doc.status_url;
      $("report-form").hidden = true;
      $("done").hidden = false;
    } catch (e) {
      err.textContent = window.CZ.t("e_generic"); err.hidden = false;
    } finally {
      button.disabled = false; button.textContent = original;
    }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    $("report-form").addEventListener("submit", submit);
    $("map").addEventListener("click", onMapClick);
    document.addEventListener("cz-lang", fillServices);
    try {
      services = (await (await fetch("/feedback/api/services")).json()).services;
      fillServices();
      drawMap(await (await fetch("/feedback/api/areas")).json());
    } catch (e) { /* the form still works with an address */ }
  });
})();
