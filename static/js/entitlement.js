/* Entitlement page: the usage chart. Data comes from the json_script block #usage-data:
 * {bucket: "hour"|"day", entitled, hard_limit (null = unlimited),
 *  points: [{t, peak, denials, zone: "within"|"overdraft"|"at_hard_limit"}]}.
 * The server decides each point's zone (licensing.zones); this script only colours it.
 */
(function () {
  "use strict";

  var dataEl = document.getElementById("usage-data");
  var canvas = document.getElementById("usage-chart");
  if (!dataEl || !canvas || typeof Chart === "undefined") {
    return;
  }
  var data = JSON.parse(dataEl.textContent);
  var css = getComputedStyle(document.documentElement);
  function colour(name, fallback) {
    return (css.getPropertyValue(name) || "").trim() || fallback;
  }
  var within = colour("--chart-usage", "#2f6fde");
  var overdraft = colour("--zone-overdraft", "#c77c02");
  var limit = colour("--zone-limit", "#c62828");
  var entitledColour = colour("--zone-within", "#1f8a4c");
  // The zones drawn amber (the line, and the area between it and the entitled line).
  var amber = { within: false, overdraft: true, at_hard_limit: true };

  var hourly = data.bucket === "hour";
  var labelFormat = new Intl.DateTimeFormat(undefined, hourly
    ? { weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: "UTC" }
    : { day: "numeric", month: "short", timeZone: "UTC" });
  var titleFormat = new Intl.DateTimeFormat(undefined, hourly
    ? { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: "UTC" }
    : { weekday: "short", day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });

  var entitled = data.entitled;
  var hardLimit = data.hard_limit;
  var points = data.points;
  var labels = points.map(function (p) { return labelFormat.format(new Date(p.t)); });
  var peaks = points.map(function (p) { return p.peak; });
  var denials = points.map(function (p) { return p.denials; });
  var maxPeak = Math.max.apply(null, peaks.concat([entitled, hardLimit || 0]));

  function alpha(hex, a) {
    var m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
    if (!m) { return hex; }
    return "rgba(" + parseInt(m[1], 16) + "," + parseInt(m[2], 16) + "," + parseInt(m[3], 16) + "," + a + ")";
  }

  var datasets = [
    {
      type: "line",
      label: "Seats in use (peak)",
      data: peaks,
      yAxisID: "y",
      stepped: "middle",
      borderColor: within,
      backgroundColor: alpha(within, 0.12),
      borderWidth: 2,
      pointRadius: 0,
      pointHitRadius: 6,
      fill: "origin",
      order: 2,
      segment: {
        borderColor: function (ctx) {
          return amber[points[ctx.p0DataIndex].zone] || amber[points[ctx.p1DataIndex].zone]
            ? overdraft : within;
        }
      }
    },
    {
      // The part of the use above the entitled line, filled amber: overdraft at a glance.
      type: "line",
      label: "Overdraft use",
      data: points.map(function (p) { return amber[p.zone] ? p.peak : entitled; }),
      yAxisID: "y",
      stepped: "middle",
      borderWidth: 0,
      borderColor: "transparent",
      backgroundColor: alpha(overdraft, 0.45),
      pointRadius: 0,
      pointHitRadius: 0,
      fill: { target: { value: entitled } },
      order: 3
    },
    {
      type: "line",
      label: "Entitled (" + entitled + ")",
      data: points.map(function () { return entitled; }),
      yAxisID: "y",
      borderColor: entitledColour,
      borderDash: [6, 4],
      borderWidth: 2,
      pointRadius: 0,
      pointHitRadius: 0,
      fill: false,
      order: 1
    }
  ];
  if (hardLimit !== null) {
    datasets.push({
      type: "line",
      label: "Hard limit (" + hardLimit + ")",
      data: points.map(function () { return hardLimit; }),
      yAxisID: "y",
      borderColor: limit,
      borderWidth: 2,
      pointRadius: 0,
      pointHitRadius: 0,
      fill: false,
      order: 1
    });
  }
  datasets.push({
    type: "bar",
    label: "Denials",
    data: denials,
    yAxisID: "y2",
    backgroundColor: alpha(limit, 0.7),
    borderColor: limit,
    borderWidth: 0,
    barPercentage: 1,
    categoryPercentage: 0.9,
    order: 4
  });

  var maxDenials = Math.max.apply(null, denials.concat([0]));
  new Chart(canvas, {
    data: { labels: labels, datasets: datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: {
          position: "bottom",
          labels: {
            boxWidth: 14,
            filter: function (item) { return item.text !== "Overdraft use"; }
          }
        },
        tooltip: {
          filter: function (item) { return item.dataset.label !== "Overdraft use"; },
          callbacks: {
            title: function (items) {
              return items.length ? titleFormat.format(new Date(points[items[0].dataIndex].t)) + " UTC" : "";
            }
          }
        }
      },
      scales: {
        x: {
          grid: { display: false },
          ticks: { autoSkip: true, maxRotation: 0, autoSkipPadding: 12 }
        },
        y: {
          position: "left",
          beginAtZero: true,
          suggestedMax: Math.ceil(maxPeak * 1.1),
          title: { display: true, text: "Seats" },
          ticks: { precision: 0 }
        },
        y2: {
          position: "right",
          beginAtZero: true,
          suggestedMax: Math.max(4, Math.ceil(maxDenials * 3)),
          title: { display: true, text: "Denials" },
          grid: { drawOnChartArea: false },
          ticks: { precision: 0 }
        }
      }
    }
  });
})();
