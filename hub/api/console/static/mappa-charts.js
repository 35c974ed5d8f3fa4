/* Draws the MAPPA dashboard's charts with the vendored uPlot (static/uplot/) from the page's
   JSON data block (#mappa-chart-data). Progressive enhancement: each chart's table is on the
   page before it, and the charts are hidden from assistive technology. The Content-Security-
   Policy allows the hub's own script files only, so nothing here is inline. */
(function () {
  "use strict";
  var block = document.getElementById("mappa-chart-data");
  if (!block || typeof uPlot === "undefined") {
    return;
  }
  var data = JSON.parse(block.textContent);
  // The design system's blue, red, dark grey, green, purple, orange: told apart by dash too.
  var colours = ["#0065bd", "#d32205", "#333333", "#428542", "#6f2c91", "#b35000"];
  var dashes = [[], [8, 4], [2, 3], [10, 3, 2, 3]];
  var month = 30 * 24 * 3600;
  // A latency chart's y ticks: the durations people think in, labelled as the tables are.
  var durations = [
    [1, "1 s"], [60, "1 min"], [3600, "1 h"], [86400, "1 d"],
    [7 * 86400, "7 d"], [30 * 86400, "30 d"], [365 * 86400, "365 d"],
  ];

  function label(value) {
    var index = data.months.indexOf(value);
    return index < 0 ? "" : data.labels[index];
  }

  function series(chart) {
    var bars = chart.kind === "bars";
    var found = [{ label: "Month", value: function (u, v) { return v == null ? "" : label(v); } }];
    chart.series.forEach(function (s, i) {
      var colour = colours[i % colours.length];
      var spec = { label: s.label, stroke: colour, width: 2 };
      if (bars) {
        spec.fill = colour;
        // Two bars side by side at each month: the first to the left of it, the next to the right.
        spec.paths = uPlot.paths.bars({ size: [0.4, 48], align: i % 2 === 0 ? -1 : 1 });
        spec.points = { show: false };
      } else {
        spec.dash = dashes[i % dashes.length];
        spec.points = { show: true, size: 7, fill: colour };
      }
      found.push(spec);
    });
    return found;
  }

  function draw(element) {
    var chart = data.charts[element.getAttribute("data-chart")];
    if (!chart || chart.series.length === 0 || data.months.length === 0) {
      return;
    }
    var width = Math.max(320, Math.min(element.clientWidth || 760, 960));
    var first = data.months[0];
    var last = data.months[data.months.length - 1];
    var options = {
      width: width,
      height: 300,
      series: series(chart),
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: false, range: [first - month / 2, last + month / 2] },
        y: chart.log ? { distr: 3 } : { range: function (u, min, max) { return [0, Math.max(1, max)]; } },
      },
      axes: [
        {
          splits: function () { return data.months; },
          values: function (u, splits) { return splits.map(label); },
          rotate: -30,
          size: 60,
        },
        { label: chart.unit, size: 60 },
      ],
    };
    if (chart.unit === "seconds") {
      var found = [];
      chart.series.forEach(function (s) {
        s.values.forEach(function (v) { if (v != null) { found.push(v); } });
      });
      var low = Math.min.apply(null, found.length ? found : [1]);
      var high = Math.max.apply(null, found.length ? found : [86400]);
      // From the tick at or below the least value to the tick at or above the greatest.
      var ticks = durations.filter(function (d, i) {
        var next = durations[i + 1];
        var previous = durations[i - 1];
        return (next === undefined || next[0] > low) && (previous === undefined || previous[0] < high);
      });
      options.scales.y = { distr: 3, range: [ticks[0][0], ticks[ticks.length - 1][0]] };
      options.axes[1] = {
        label: "time (at most)",
        size: 70,
        splits: function () { return ticks.map(function (d) { return d[0]; }); },
        values: function () { return ticks.map(function (d) { return d[1]; }); },
      };
    }
    var columns = [data.months];
    chart.series.forEach(function (s) { columns.push(s.values); });
    new uPlot(options, columns, element);
  }

  var charts = document.querySelectorAll("[data-chart]");
  for (var i = 0; i < charts.length; i++) {
    draw(charts[i]);
  }
})();
