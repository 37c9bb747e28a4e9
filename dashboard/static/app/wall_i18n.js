// Wall labels in Vietnamese (default) and English; the language itself is i18n.js's.
import { getLang } from "./i18n.js";

const W = {
  vi: {
    title: "Trung tâm Điều hành Thông minh Hải Phòng",
    l_full: "Tổng quan", l_map: "Bản đồ", l_kpi: "Chỉ số", l_alarms: "Báo động", l_cameras: "Camera",
    fullscreen: "Toàn màn hình", map: "Bản đồ thành phố", kpi: "Chỉ số vận hành",
    alarms: "Báo động", cameras: "Camera giao thông", chart: "PM2.5 trung bình theo khu vực",
    close: "Đóng", noData: "Chưa có dữ liệu", noAlarms: "Không có báo động.",
    ack: "Xác nhận", assign: "Giao", comment: "Ghi chú", clear: "Kết thúc", history: "Lịch sử",
    s_active_unacked: "Chưa xác nhận", s_active_acked: "Đã xác nhận", s_cleared_unacked: "Đã hết — chưa xác nhận",
    s_closed: "Đã đóng", sev: "Mức",
    k_sensor_alert: "Cảm biến", k_camera_fault: "Sự cố camera", k_violation_surge: "Vi phạm tăng đột biến",
    k_feedback_overdue: "Phản ánh quá hạn",
    aqiArea: "AQI theo khu vực (PM2.5)", flood: "Ngập / mực nước", noise: "Tiếng ồn",
    traffic: "Lưu lượng giao thông", violations: "Vi phạm 1 giờ qua", reports: "Phản ánh của người dân",
    health: "Sức khỏe trung tâm", ingest: "Tốc độ nhận", lag: "Độ trễ", fps: "Camera fps", db: "CSDL",
    open: "đang mở", overdue: "quá hạn", onTime: "đúng hạn", alertsActive: "cảnh báo", perHour: "xe/giờ",
    perSec: "bản tin/giây", offline: "Mất tín hiệu", online: "Hoạt động", cams: "camera",
    behind: "Chậm (không theo kịp)",
    view_moved: "Lệch góc quay (dừng xử lý vi phạm)", view_obstructed: "Bị che khuất (dừng xử lý vi phạm)",
    stream_frozen: "Hình ảnh bị đứng (dừng xử lý vi phạm)",
    layerSensors: "Cảm biến", layerCameras: "Camera", layerReports: "Phản ánh", layerAlarms: "Báo động",
    latest: "Giá trị mới nhất", historyLink: "Xem lịch sử", assignee: "Người xử lý", by: "bởi",
    prompt_assign: "Giao cho ai?", prompt_comment: "Ghi chú:", noCameras: "Chưa có camera nào gửi hình.",
    area: "Khu vực", none: "—", legend: "PM2.5 (VN_AQI)", reportsNoData: "Phản ánh: chưa có dữ liệu",
    e_raised: "Phát sinh", e_updated: "Thay đổi mức", e_reactivated: "Tái phát", e_cleared: "Đã hết",
    e_acknowledged: "Xác nhận", e_assigned: "Giao việc", e_commented: "Ghi chú", e_closed: "Đóng",
  },
  en: {
    title: "Hai Phong Intelligent Operations Centre",
    l_full: "Overview", l_map: "Map", l_kpi: "KPIs", l_alarms: "Alarms", l_cameras: "Cameras",
    fullscreen: "Full screen", map: "City map", kpi: "Operations KPIs",
    alarms: "Alarms", cameras: "Traffic cameras", chart: "PM2.5 mean by area",
    close: "Close", noData: "No data", noAlarms: "No alarms.",
    ack: "Acknowledge", assign: "Assign", comment: "Comment", clear: "Clear", history: "History",
    s_active_unacked: "Unacknowledged", s_active_acked: "Acknowledged", s_cleared_unacked: "Cleared — unacknowledged",
    s_closed: "Closed", sev: "Sev",
    k_sensor_alert: "Sensor", k_camera_fault: "Camera fault", k_violation_surge: "Violation surge",
    k_feedback_overdue: "Overdue report",
    aqiArea: "AQI by area (PM2.5)", flood: "Flood / water level", noise: "Noise",
    traffic: "Traffic flow", violations: "Violations, last hour", reports: "Citizen reports",
    health: "Centre health", ingest: "Ingest rate", lag: "Lag", fps: "Camera fps", db: "Database",
    open: "open", overdue: "overdue", onTime: "on time", alertsActive: "alerts", perHour: "veh/h",
    perSec: "msg/s", offline: "Offline", online: "Online", cams: "cameras",
    behind: "Falling behind",
    view_moved: "View moved (rules paused)", view_obstructed: "View obstructed (rules paused)",
    stream_frozen: "Picture frozen (rules paused)",
    layerSensors: "Sensors", layerCameras: "Cameras", layerReports: "Reports", layerAlarms: "Alarms",
    latest: "Latest values", historyLink: "Open history", assignee: "Assignee", by: "by",
    prompt_assign: "Assign to whom?", prompt_comment: "Comment:", noCameras: "No camera has sent a frame yet.",
    area: "Area", none: "—", legend: "PM2.5 (VN_AQI)", reportsNoData: "Citizen reports: no data",
    e_raised: "Raised", e_updated: "Severity changed", e_reactivated: "Reactivated", e_cleared: "Cleared",
    e_acknowledged: "Acknowledged", e_assigned: "Assigned", e_commented: "Comment", e_closed: "Closed",
  },
};

export function w(key) {
  const lang = getLang();
  return W[lang][key] ?? W.vi[key] ?? key;
}

export function applyWallText() {
  for (const el of document.querySelectorAll("[data-w]")) el.textContent = w(el.dataset.w);
  document.title = `IOC — ${w("title")}`;
}
