// Citizen pages: Vietnamese by default, English by a toggle (remembered in localStorage).
"use strict";
window.CZ = (function () {
  const EN = {
    title: "Report a problem", intro: "Tell the city about a problem: flooding, garbage, broken lights, potholes… You will get a code to follow it.",
    describe: "Describe the problem *", category: "Category (optional)", auto: "Let the system choose",
    where: "Location *", pinhint: "Tap the map to drop a pin, or type an address.", locate: "Use my location",
    address: "Address", photos: "Photos (up to 3)", contact: "Contact (optional)", name: "Name", phone: "Phone",
    send: "Send report", thanks: "Your report was received", yourcode: "Tracking code:", follow: "Follow its progress",
    check: "Look up a report", statustitle: "Report status", view: "View", status: "Status:", agency: "Handled by:",
    category2: "Category:", due: "Due:", answer: "Answer of the department", timeline: "Timeline", new: "Send a new report",
    pinned: "Pinned:", sending: "Sending…", reply: "Answer the department's question", replysend: "Send answer",
    k_citizenreply: "Your answer",
    received: "Received", triage: "Being sorted", routed: "Sent to the department", in_progress: "Being handled",
    resolved: "Resolved", rejected: "Rejected", open: "Open", closed: "Closed",
    k_received: "Report received", k_classified: "Sent to the department", k_assigned: "Re-assigned",
    k_acknowledged: "The department took it up", k_inforequested: "The department asks for information",
    k_resolved: "Resolved", k_rejected: "Rejected", k_reopened: "Reopened", k_linked: "Linked to a report of the same problem",
    e_missing_description: "Please describe the problem.", e_missing_location: "Please pin the location or type an address.",
    e_too_many_reports: "Too many reports from you; try again later.", e_media_too_large: "A photo is too large.",
    e_unsupported_media_type: "Only JPEG, PNG or WebP photos.", e_media_type_mismatch: "A file is not the image it claims to be.",
    e_not_found: "No report with this code (yet). Try again in a moment.", e_generic: "Something went wrong; please try again.",
  };
  const VI = {
    pinned: "Đã ghim:", sending: "Đang gửi…", k_citizenreply: "Trả lời của người phản ánh",
    received: "Đã tiếp nhận", triage: "Đang phân loại", routed: "Đã chuyển đơn vị xử lý", in_progress: "Đang xử lý",
    resolved: "Đã xử lý xong", rejected: "Từ chối", open: "Đang mở", closed: "Đã đóng",
    k_received: "Tiếp nhận phản ánh", k_classified: "Chuyển đơn vị xử lý", k_assigned: "Chuyển lại đơn vị",
    k_acknowledged: "Đơn vị đã tiếp nhận xử lý", k_inforequested: "Đơn vị đề nghị bổ sung thông tin",
    k_resolved: "Đã xử lý xong", k_rejected: "Từ chối", k_reopened: "Mở lại", k_linked: "Gộp với phản ánh cùng vấn đề",
    e_missing_description: "Vui lòng mô tả vấn đề.", e_missing_location: "Vui lòng ghim vị trí hoặc nhập địa chỉ.",
    e_too_many_reports: "Bạn gửi quá nhiều phản ánh; vui lòng thử lại sau.", e_media_too_large: "Ảnh quá lớn.",
    e_unsupported_media_type: "Chỉ nhận ảnh JPEG, PNG hoặc WebP.", e_media_type_mismatch: "Tệp không phải ảnh như khai báo.",
    e_not_found: "Chưa có phản ánh với mã này. Vui lòng thử lại sau ít phút.", e_generic: "Có lỗi; vui lòng thử lại.",
  };
  const original = new Map();
  let lang = localStorage.getItem("cz-lang") === "en" ? "en" : "vi";
  function t(key) {
    if (lang === "en" && key in EN) return EN[key];
    if (key in VI) return VI[key];
    return EN[key] || key;
  }
  function apply() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((el) => {
      if (!original.has(el)) original.set(el, el.textContent);
      const key = el.getAttribute("data-i18n");
      el.textContent = lang === "en" && key in EN ? EN[key] : original.get(el);
    });
    const toggle = document.getElementById("lang-toggle");
    if (toggle) toggle.textContent = lang === "en" ? "Tiếng Việt" : "English";
    const hidden = document.getElementById("lang");
    if (hidden) hidden.value = lang;
    document.dispatchEvent(new Event("cz-lang"));
  }
  document.addEventListener("DOMContentLoaded", () => {
    const toggle = document.getElementById("lang-toggle");
    if (toggle) toggle.addEventListener("click", () => {
      lang = lang === "en" ? "vi" : "en";
      localStorage.setItem("cz-lang", lang);
      apply();
    });
    apply();
  });
  return { t, lang: () => lang };
})();
