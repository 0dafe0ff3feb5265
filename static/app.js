// Stillwater: the few behaviours htmx does not cover. No inline scripts (CSP), no eval.
(function () {
  "use strict";

  // Pre-select the browser's time zone on sign-up forms.
  function guessTimeZone(root) {
    root.querySelectorAll("select[data-guess-time-zone]").forEach(function (select) {
      if (select.value) return;
      try {
        var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
        if (zone && select.querySelector('option[value="' + zone + '"]')) select.value = zone;
      } catch (e) { /* older browsers: the person chooses */ }
    });
  }

  // A rough strength hint while typing; the server enforces the real policy.
  function strengthText(value) {
    if (!value) return "";
    if (value.length < 10) return "Too short: " + (10 - value.length) + " more character" + (value.length === 9 ? "" : "s") + ".";
    var kinds = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter(function (r) { return r.test(value); }).length;
    var score = Math.min(4, Math.floor(value.length / 6) + kinds - 1);
    return ["Weak", "Fair", "Good", "Strong", "Very strong"][Math.max(0, score)];
  }
  function watchStrength(root) {
    root.querySelectorAll("[data-strength-for]").forEach(function (meter) {
      var input = document.getElementById(meter.getAttribute("data-strength-for"));
      if (!input || input.dataset.strengthBound) return;
      input.dataset.strengthBound = "1";
      input.addEventListener("input", function () { meter.textContent = strengthText(input.value); });
    });
  }

  // Pending charges: keep "in 1 day 23 hours" current while the page is open (the server renders it first).
  function countdownText(ms) {
    if (ms <= 0) return "any moment now";
    var minutes = Math.floor(ms / 60000), days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60);
    var parts = [];
    if (days) parts.push(days + (days === 1 ? " day" : " days"));
    if (hours) parts.push(hours + (hours === 1 ? " hour" : " hours"));
    if (!days && (minutes % 60 || !parts.length)) parts.push(minutes % 60 + (minutes % 60 === 1 ? " minute" : " minutes"));
    return "in " + parts.join(" ");
  }
  function tickCountdowns() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-countdown"));
      if (!isNaN(due)) el.textContent = countdownText(due - Date.now());
    });
  }
  setInterval(tickCountdowns, 30000);

  function init(root) { guessTimeZone(root); watchStrength(root); }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
})();
