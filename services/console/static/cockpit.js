// The cockpit's charts in fragments that htmx swaps in (the six months' trend): htmx keeps
// no <script> block of a fragment (allowScriptTags: false), so such a chart carries its
// ECharts option in a data-chart-option attribute instead. No inline script (CSP).
"use strict";

function cockpitCharts(root) {
  if (typeof echarts === "undefined") { return; }
  root.querySelectorAll("[data-chart-option]").forEach(function (el) {
    if (el.getAttribute("data-drawn")) { return; }
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption(JSON.parse(el.getAttribute("data-chart-option")));
    el.setAttribute("data-drawn", "1");
    window.addEventListener("resize", function () { chart.resize(); });
  });
}

document.addEventListener("DOMContentLoaded", function () { cockpitCharts(document); });
document.addEventListener("htmx:afterSettle", function (event) { cockpitCharts(event.target); });
