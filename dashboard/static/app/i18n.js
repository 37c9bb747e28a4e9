// Vietnamese (default) and English labels; the choice is kept in localStorage.

const TEXT = {
  vi: {
    title: "Trung tâm Điều hành Thông minh Hải Phòng",
    subtitle: "Giám sát môi trường trực tuyến",
    logout: "Đăng xuất",
    latest: "Chỉ số mới nhất theo khu vực",
    alerts: "Cảnh báo đang hoạt động",
    chart: "Trung bình 1 phút theo khu vực",
    quantity: "Chỉ số",
    system: "Hệ thống",
    waiting: "Đang chờ dữ liệu…",
    noAlerts: "Không có cảnh báo.",
    noData: "Chưa có dữ liệu trong 60 phút gần nhất.",
    footer: "Dữ liệu: cảm biến thành phố · Phân loại VN_AQI (QĐ 1459/QĐ-TCMT)",
    conn_connecting: "Đang kết nối…",
    conn_syncing: "Đang đồng bộ…",
    conn_live: "Trực tuyến",
    conn_offline: "Mất kết nối — đang thử lại",
    conn_forbidden: "Không có quyền",
    workers: "Tiến trình xử lý",
    workersNone: "Chưa thấy tiến trình nào",
    processed: "đã xử lý",
    lag: "độ trễ",
    deadletters: "Bản tin lỗi (từ khi mở trang)",
    since: "từ",
    peak: "đỉnh",
    unknownArea: "Chưa gán khu vực",
    time: "Thời gian",
  },
  en: {
    title: "Hai Phong Intelligent Operations Centre",
    subtitle: "Live environmental monitoring",
    logout: "Log out",
    latest: "Latest readings by area",
    alerts: "Active alerts",
    chart: "1-minute mean by area",
    quantity: "Quantity",
    system: "System",
    waiting: "Waiting for data…",
    noAlerts: "No active alerts.",
    noData: "No data in the last 60 minutes.",
    footer: "Data: city sensors · VN_AQI categories (decision 1459/QĐ-TCMT)",
    conn_connecting: "Connecting…",
    conn_syncing: "Synchronising…",
    conn_live: "Live",
    conn_offline: "Disconnected — retrying",
    conn_forbidden: "Not allowed",
    workers: "Stream workers",
    workersNone: "No worker seen yet",
    processed: "processed",
    lag: "lag",
    deadletters: "Dead letters (since page load)",
    since: "since",
    peak: "peak",
    unknownArea: "No area",
    time: "Time",
  },
};

const QUANTITIES = {
  pm25: ["PM2.5", "PM2.5"], pm10: ["PM10", "PM10"], no2: ["NO₂", "NO₂"], so2: ["SO₂", "SO₂"],
  co: ["CO", "CO"], o3: ["O₃", "O₃"], temperature: ["Nhiệt độ", "Temperature"],
  humidity: ["Độ ẩm", "Humidity"], pressure: ["Áp suất", "Pressure"],
  rainfall: ["Lượng mưa", "Rainfall"], wind_speed: ["Tốc độ gió", "Wind speed"],
  noise: ["Tiếng ồn", "Noise"], water_level: ["Mực nước", "Water level"],
  traffic_flow: ["Lưu lượng xe", "Traffic flow"], traffic_occupancy: ["Chiếm dụng làn", "Lane occupancy"],
  traffic_speed: ["Tốc độ xe", "Vehicle speed"], bicycle_flow: ["Lưu lượng xe đạp", "Bicycle flow"],
};

const LEVELS = {
  poor: ["Kém", "Poor"], bad: ["Xấu", "Bad"], very_bad: ["Rất xấu", "Very bad"],
  hazardous: ["Nguy hại", "Hazardous"], high: ["Cao", "High"], warning: ["Cảnh báo", "Warning"],
  critical: ["Nghiêm trọng", "Critical"],
};

const UNITS = { "ug/m3": "µg/m³", degC: "°C", ratio: "", "%": "%" };

let lang = localStorage.getItem("ioc.lang") === "en" ? "en" : "vi";

export function getLang() { return lang; }

export function setLang(next) {
  lang = next === "en" ? "en" : "vi";
  localStorage.setItem("ioc.lang", lang);
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
}

export function t(key) { return TEXT[lang][key] ?? TEXT.vi[key] ?? key; }

export function quantityLabel(q) { const p = QUANTITIES[q]; return p ? p[lang === "en" ? 1 : 0] : q; }

export function levelLabel(l) { const p = LEVELS[l]; return p ? p[lang === "en" ? 1 : 0] : l; }

export function unitLabel(u) { return u in UNITS ? UNITS[u] : u; }

export function areaName(area) {
  if (!area) return t("unknownArea");
  return (lang === "vi" && area.name_vi) ? area.name_vi : area.name;
}

const TZ = "Asia/Ho_Chi_Minh";

function parts(d, withDate) {
  const opts = { timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" };
  if (withDate) Object.assign(opts, { day: "2-digit", month: "2-digit" });
  const p = Object.fromEntries(new Intl.DateTimeFormat("en-GB", opts).formatToParts(d)
    .map((x) => [x.type, x.value]));
  const clock = `${p.hour}:${p.minute}:${p.second}`;
  return withDate ? `${p.day}/${p.month} ${clock}` : clock;
}

// "23/11 15:09:02" in Hai Phong time, whatever the browser's zone.
export function formatTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : parts(d, true);
}

export function formatClock(d) { return parts(d, false); }

// Chart axis ticks: "15:05" (and the date under the first tick of a day).
export function formatTick(seconds, withDate) {
  const d = new Date(seconds * 1000);
  const full = parts(d, true);
  const hm = full.slice(6, 11);
  return withDate ? `${hm}\n${full.slice(0, 5)}` : hm;
}

export function formatValue(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return "–";
  const abs = Math.abs(v);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return v.toLocaleString(lang === "en" ? "en-GB" : "vi-VN", {
    minimumFractionDigits: digits, maximumFractionDigits: digits,
  });
}
