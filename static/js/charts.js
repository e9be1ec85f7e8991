// Draws every <canvas data-chart="ID"> from the JSON spec in <script type="application/json" id="ID">
// (written by grants/dashboard/charts.py). The same figures are always in a table under the chart,
// so a page without JavaScript, or a screen-reader user, loses nothing.
(function () {
  "use strict";
  if (typeof window.Chart === "undefined") {
    return;
  }
  var Chart = window.Chart;

  // Okabe–Ito: distinguishable with the common forms of colour blindness.
  var PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"];
  var TEXT = "#1b1b1b";
  var GRID = "#dfe1e2";

  var dollars = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
  var compactDollars = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", notation: "compact", maximumFractionDigits: 1 });
  var count = new Intl.NumberFormat("en-US");
  var score = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

  Chart.defaults.color = TEXT;
  Chart.defaults.font.family = '"Source Sans Pro Web", "Helvetica Neue", Helvetica, Roboto, Arial, sans-serif';
  Chart.defaults.font.size = 14;
  Chart.defaults.animation = false; // figures, not a show; also honours reduced-motion settings

  function formatValue(format, value, forAxis) {
    if (value === null || value === undefined) {
      return "";
    }
    if (format === "money") {
      return forAxis ? compactDollars.format(value) : dollars.format(value);
    }
    if (format === "score") {
      return score.format(value);
    }
    return count.format(value);
  }

  // Money arrives in cents; the chart shows dollars.
  function scaled(format, value) {
    if (format !== "money") {
      return value;
    }
    if (Array.isArray(value)) {
      return value.map(function (v) { return v / 100; });
    }
    return value / 100;
  }

  function buildDataset(spec, series, index) {
    var color = PALETTE[index % PALETTE.length];
    var data = series.data.map(function (value) { return scaled(spec.format, value); });
    var dataset = { label: series.label, data: data };
    if (series.kind === "point") {
      return Object.assign(dataset, {
        type: "line", showLine: false, pointRadius: 6, pointHoverRadius: 8, pointStyle: "rectRot",
        backgroundColor: "#000000", borderColor: "#000000", order: 0
      });
    }
    if (series.kind === "reference") {
      return Object.assign(dataset, {
        type: "line", borderColor: PALETTE[3], borderDash: [6, 4], borderWidth: 2, pointRadius: 0,
        backgroundColor: PALETTE[3], fill: false, order: 1
      });
    }
    var colors = spec.color_by_label && spec.datasets.filter(function (d) { return !d.table_only; }).length === 1
      ? data.map(function (_v, i) { return PALETTE[i % PALETTE.length]; })
      : color;
    return Object.assign(dataset, {
      type: "bar", backgroundColor: colors, borderColor: colors, borderWidth: 1,
      barPercentage: series.kind === "range" ? 0.5 : 0.8, order: 2
    });
  }

  function tooltipLabel(spec) {
    return function (context) {
      var raw = context.raw;
      var text = Array.isArray(raw)
        ? formatValue(spec.format, raw[0]) + " to " + formatValue(spec.format, raw[1])
        : formatValue(spec.format, raw);
      return context.dataset.label + ": " + text;
    };
  }

  function axis(title, options) {
    return Object.assign({
      title: { display: true, text: title, font: { weight: "bold" } },
      grid: { color: GRID }
    }, options || {});
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) {
      return;
    }
    var spec = JSON.parse(source.textContent);
    var drawn = spec.datasets.filter(function (series) { return !series.table_only; });
    var valueAxis = axis(spec.value_title, {
      stacked: spec.stacked,
      beginAtZero: true,
      ticks: { precision: 0, callback: function (value) { return formatValue(spec.format, value, true); } }
    });
    if (spec.format === "score") {
      valueAxis.min = 0;
      valueAxis.max = 100;
    }
    var categoryAxis = axis(spec.category_title, { stacked: spec.stacked, grid: { display: false } });
    var horizontal = Boolean(spec.horizontal);
    // Give a horizontal chart room for every bar, however many categories there are.
    if (horizontal) {
      canvas.parentNode.style.height = Math.max(12, 4 + spec.labels.length * (spec.stacked ? 2.5 : 1 + drawn.length)) + "rem";
    }
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: drawn.map(function (series, index) { return buildDataset(spec, series, index); })
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          title: { display: true, text: spec.title, font: { size: 18, weight: "bold" }, padding: { bottom: 12 } },
          legend: { display: drawn.length > 1, position: "bottom" },
          tooltip: { callbacks: { label: tooltipLabel(spec) } }
        },
        scales: horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis }
      }
    });
  }

  function drawAll() {
    Array.prototype.forEach.call(document.querySelectorAll("canvas[data-chart]"), draw);
  }
  // Draw once the page's web fonts are in, so labels are measured in the font they are drawn with.
  if (document.fonts && document.fonts.ready) {
    document.fonts.ready.then(drawAll, drawAll);
  } else {
    drawAll();
  }
})();
