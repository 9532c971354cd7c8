// The console's one script (no inline script: the Content-Security-Policy forbids it).
// htmx requests carry the CSRF token; deadlines count down; charts are drawn from the JSON
// data blocks the server renders (<script type="application/json" data-chart>).
"use strict";

document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRFToken"] = meta.content; }
});

function countdowns(root) {
  var now = Date.now();
  root.querySelectorAll("[data-deadline]").forEach(function (el) {
    var due = Date.parse(el.getAttribute("data-deadline"));
    if (isNaN(due)) { return; }
    var left = due - now;
    var hours = Math.floor(Math.abs(left) / 3600000);
    var days = Math.floor(hours / 24);
    var text = days > 0 ? days + "d " + (hours % 24) + "h" : hours + "h " + Math.floor((Math.abs(left) % 3600000) / 60000) + "m";
    el.textContent = (left < 0 ? el.getAttribute("data-overdue-label") + " " : "") + text;
    el.classList.toggle("text-danger", left < 0);
  });
}

function charts(root) {
  if (typeof echarts === "undefined") { return; }
  root.querySelectorAll("script[type='application/json'][data-chart]").forEach(function (block) {
    var target = document.getElementById(block.getAttribute("data-chart"));
    if (!target || target.getAttribute("data-drawn")) { return; }
    var chart = echarts.init(target, null, { renderer: "svg" });
    chart.setOption(JSON.parse(block.textContent));
    target.setAttribute("data-drawn", "1");
    window.addEventListener("resize", function () { chart.resize(); });
  });
}

function confirmations(root) {
  root.querySelectorAll("form[data-confirm]").forEach(function (form) {
    if (form.getAttribute("data-confirm-bound")) { return; }
    form.setAttribute("data-confirm-bound", "1");
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
}

function enhance(root) { countdowns(root); charts(root); confirmations(root); }

document.addEventListener("DOMContentLoaded", function () {
  enhance(document);
  setInterval(function () { countdowns(document); }, 60000);
});
document.addEventListener("htmx:afterSettle", function (event) { enhance(event.target); });
