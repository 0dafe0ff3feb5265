// Stillwater: the few behaviours htmx does not cover. No inline scripts (CSP), no eval.
(function () {
  "use strict";

  // Pre-select the browser's time zone on sign-up forms.
  function guessTimeZone(root) {
    root.querySelectorAll("select[data-guess-time-zone]").forEach(function (select) {
      if (select.value) return;
      try {
        var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
        if (zone && select.querySelector('option[value="' + zone + '"]')) {
          select.value = zone;
          // The public booking page: show the slots in the visitor's zone straight away.
          if (select.hasAttribute("data-submit-on-guess") && select.form) select.form.submit();
        }
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

  // Tell the server whether this is a wide screen, so /calendar opens the week view there and the
  // day view on a phone. Without JavaScript the day view opens, with the week view one tap away.
  function rememberScreenWidth() {
    var wide = window.matchMedia("(min-width: 64rem)").matches ? "1" : "0";
    document.cookie = "sw_wide=" + wide + "; path=/; max-age=31536000; SameSite=Lax";
  }

  // The calendar's appointment panel: open the dialog (a bottom sheet on phones) when htmx fills it.
  function openDialogOnSwap(event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "dialog-body") return;
    var dialog = target.closest("dialog");
    if (dialog && !dialog.open) dialog.showModal();
    if (dialog) dialog.scrollTop = 0;
    var heading = target.querySelector("h2");
    if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: true }); }
  }

  // A closed sheet keeps nothing: its charge stops asking the server for news (htmx polling).
  function emptyDialogOnClose(event) {
    var body = event.target.querySelector && event.target.querySelector("#dialog-body");
    if (body) body.replaceChildren();
  }

  // Day and week grids: tapping an empty part of a day opens "New appointment" at that hour.
  // (Keyboard and no-script users have the "New appointment" button; the form asks for the time.)
  function bookAtTappedHour(event) {
    var day = event.target;
    if (!day.classList || !day.classList.contains("cal-day") || !day.hasAttribute("data-book")) return;
    // The phone's week list (app.css makes the day static there) has no hours to tap.
    if (getComputedStyle(day).position === "static") return;
    var grid = day.closest(".cal-grid");
    var hours = parseInt(getComputedStyle(grid).getPropertyValue("--hours"), 10);
    var first = parseInt(grid.getAttribute("data-first-hour"), 10);
    var box = day.getBoundingClientRect();
    var offset = Math.floor(((event.clientY - box.top) / box.height) * hours);
    var hour = first + Math.min(hours - 1, Math.max(0, offset));
    var url = day.getAttribute("data-book") + "&time=" + (hour < 10 ? "0" : "") + hour + ":00";
    window.htmx.ajax("GET", url, { target: "#dialog-body" });
  }

  // Idle warning: a minute before automatic sign-out, offer "Stay signed in". The page says how many
  // seconds its session has left; any htmx request or "Stay signed in" resets the count. The server
  // enforces the timeout either way; this only warns, and leaves for the sign-in page when time is up.
  function idleWarning() {
    var box = document.getElementById("idle-warning");
    if (!box) return;
    var countdown = box.querySelector("[data-idle-countdown]");
    var button = box.querySelector("[data-stay-signed-in]");
    var deadline = 0;
    var timer = null;
    function csrfToken() {
      try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || ""; }
      catch (e) { return ""; }
    }
    // Time is up: end the session on the server too (this browser's clock may have run ahead of it
    // while asleep), then show the sign-in page with the reason.
    function timedOut() {
      var next = "/login?notice=timed-out&next=" + encodeURIComponent(window.location.pathname);
      fetch("/logout", { method: "POST", credentials: "same-origin", headers: { "x-csrftoken": csrfToken() } })
        .finally(function () { window.location.assign(next); });
    }
    function restart(secondsLeft) {
      deadline = Date.now() + secondsLeft * 1000;
      box.hidden = true;
      tick();
    }
    function tick() {
      clearTimeout(timer);
      var left = Math.round((deadline - Date.now()) / 1000);
      if (left <= 0) { timedOut(); return; }
      if (left <= 60) {
        if (box.hidden) { box.hidden = false; button.focus(); }
        countdown.textContent = left + " second" + (left === 1 ? "" : "s");
        timer = setTimeout(tick, 1000);
      } else {
        timer = setTimeout(tick, (left - 60) * 1000);
      }
    }
    button.addEventListener("click", function () {
      fetch("/account/session/refresh", {
        method: "POST",
        credentials: "same-origin",
        headers: { "x-csrftoken": csrfToken(), "Accept": "application/json" }
      }).then(function (response) {
        if (!response.ok) throw new Error("refresh failed");
        return response.json();
      }).then(function (body) {
        if (body.seconds_left > 0) restart(body.seconds_left); else timedOut();
      }).catch(timedOut);
    });
    var idleSeconds = parseInt(box.getAttribute("data-idle-seconds"), 10) || 0;
    var absoluteEnd = Date.now() + (parseInt(box.getAttribute("data-absolute-seconds-left"), 10) || 0) * 1000;
    // A page refreshing itself (X-Background-Refresh) is not the person at work: the count goes on.
    function activity(event) {
      var sent = event && event.detail && event.detail.requestConfig && event.detail.requestConfig.headers;
      if (sent && sent["X-Background-Refresh"] === "1") return;
      restart(Math.min(idleSeconds, Math.round((absoluteEnd - Date.now()) / 1000)));
    }
    document.addEventListener("htmx:afterRequest", activity);
    activity();
  }

  function init(root) { guessTimeZone(root); watchStrength(root); }
  rememberScreenWidth();
  document.addEventListener("htmx:afterSwap", openDialogOnSwap);
  document.addEventListener("close", emptyDialogOnClose, true);
  document.addEventListener("click", bookAtTappedHour);
  document.addEventListener("DOMContentLoaded", function () { init(document); idleWarning(); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
})();
