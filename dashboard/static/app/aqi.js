// Vietnam AQI categories by PM2.5 concentration (µg/m³), colours of decision 1459/QĐ-TCMT.
// Upper bounds are inclusive: 25 is still "good", 25.1 is "moderate".

export const PM25_CATEGORIES = [
  { key: "good", upTo: 25, vi: "Tốt", en: "Good", color: "rgb(0,228,0)", ink: "#06270a" },
  { key: "moderate", upTo: 50, vi: "Trung bình", en: "Moderate", color: "rgb(255,255,0)", ink: "#2d2a00" },
  { key: "poor", upTo: 80, vi: "Kém", en: "Poor", color: "rgb(255,126,0)", ink: "#2b1500" },
  { key: "bad", upTo: 150, vi: "Xấu", en: "Bad", color: "rgb(255,0,0)", ink: "#ffffff" },
  { key: "very_bad", upTo: 250, vi: "Rất xấu", en: "Very bad", color: "rgb(143,63,151)", ink: "#ffffff" },
  { key: "hazardous", upTo: Infinity, vi: "Nguy hại", en: "Hazardous", color: "rgb(126,0,35)", ink: "#ffffff" },
];

export function pm25Category(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return null;
  return PM25_CATEGORIES.find((c) => value <= c.upTo);
}
