/* Draws every <canvas data-chart> from the JSON script beside it, with the vendored Chart.js.
   Runs on load and again after htmx swaps in new content. The same numbers are in a table next to each chart. */
(function () {
  "use strict";
  var COLOURS = {
    achieved: "#116329", partly: "#bf8700", missed: "#a40e26", inconclusive: "#8c959f",
    pending: "#d0d7de", due: "#bf8700", overdue: "#a40e26", feature: "#0b5cad", defect: "#a40e26",
    risk: "#bf8700", debt: "#6e40c9", line: "#0b5cad", target: "#116329"
  };
  var PALETTE = ["#0b5cad", "#116329", "#bf8700", "#a40e26", "#6e40c9", "#57606a"];

  function config(spec) {
    if (spec.kind === "line") {
      var datasets = [{ label: spec.label, data: spec.values, borderColor: COLOURS.line, backgroundColor: COLOURS.line, tension: 0.2 }];
      if (spec.target !== undefined) {
        datasets.push({ label: "Target", data: spec.labels.map(function () { return spec.target; }), borderColor: COLOURS.target, borderDash: [6, 4], pointRadius: 0 });
      }
      return { type: "line", data: { labels: spec.labels, datasets: datasets }, options: { animation: false, maintainAspectRatio: false } };
    }
    if (spec.kind === "doughnut") {
      return {
        type: "doughnut",
        data: { labels: spec.labels, datasets: [{ data: spec.values, backgroundColor: spec.labels.map(function (l, i) { return COLOURS[spec.keys ? spec.keys[i] : l] || PALETTE[i % PALETTE.length]; }) }] },
        options: { animation: false, maintainAspectRatio: false }
      };
    }
    return {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (s, i) { return { label: s.label, data: s.values, backgroundColor: COLOURS[s.colour] || PALETTE[i % PALETTE.length] }; })
      },
      options: {
        animation: false, maintainAspectRatio: false,
        scales: { x: { stacked: !!spec.stacked }, y: { stacked: !!spec.stacked, beginAtZero: true, ticks: { precision: 0 } } }
      }
    };
  }

  function draw(root) {
    if (typeof Chart === "undefined") { return; }
    (root || document).querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) { return; }
      var source = document.getElementById(canvas.dataset.chart);
      if (!source) { return; }
      new Chart(canvas, config(JSON.parse(source.textContent)));
      canvas.dataset.drawn = "yes";
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (event) { draw(event.target); });
})();
