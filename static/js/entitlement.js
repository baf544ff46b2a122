/* Entitlement page: the usage chart and the denials panel under it. Data comes from the
 * json_script block #usage-data (licensing.selectors.usage_chart):
 * {bucket: "hour"|"day", entitled, hard_limit (now; null = unlimited), customer_cap (now;
 *  null = none), as_of,
 *  points: [{t, peak, denials, entitled, hard_limit, customer_cap, zone, partial}],
 *  changes: [{t, entitled, hard_limit, summary}],
 *  raises: [{from, until, status: "running"|"ended"|"scheduled", summary}],
 *  forecast: null | {as_of, days: [{t, expected, low, high}],
 *            crossings: [{name, seats, reached, t (null: not within the horizon), label}]}}.
 * Each point carries the lines it was judged by and the server's zone (licensing.zones); this
 * script draws those lines and colours those zones, it never decides a zone itself. Each raise
 * is the time a temporary raise lifted (or lifts, or will lift) the lines, from..until (ISO,
 * possibly outside the range): a shaded band behind the data, labelled at its top ("Raise
 * +20"). Its lines are in the points already (a raise's start and end are changes of terms).
 *
 * Bucket i spans x = i - 0.5 .. i + 0.5 on a linear axis, so every horizontal run of the usage
 * line and of the limit lines belongs to exactly one point and takes that point's colour (blue
 * within, amber in overdraft, red at the hard limit); the vertical risers between runs are
 * blue, amber only where they climb above the entitled line of a point in overdraft.
 *
 * The forecast (licensing.forecast, daily ranges only) takes the buckets after the last point:
 * the axis runs on over its days, the lines of today carry on across them, its expected peak is
 * a dashed run per day over a shaded band from its low to its high, and each line it is
 * expected to reach gets a ring where it does, labelled with the day ("~14 Jan").
 */
(function () {
  "use strict";

  var dataEl = document.getElementById("usage-data");
  var canvas = document.getElementById("usage-chart");
  if (!dataEl || !canvas || typeof Chart === "undefined") {
    return;
  }
  var data = JSON.parse(dataEl.textContent);
  var points = data.points;
  var n = points.length;
  if (!n) {
    return;
  }
  var ahead = (data.forecast && data.forecast.days) || [];
  var total = n + ahead.length; // buckets on the x axis: the points, then the forecast's days

  var css = getComputedStyle(document.documentElement);
  function colour(name, fallback) {
    return (css.getPropertyValue(name) || "").trim() || fallback;
  }
  var blue = colour("--chart-usage", "#2f6fde");
  var amber = colour("--zone-overdraft", "#c77c02");
  var red = colour("--zone-limit", "#c62828");
  var violet = colour("--chart-cap", "#6a3fb5");
  var green = colour("--zone-within", "#1f8a4c");
  var marker = colour("--chart-marker", "#475569");
  var teal = colour("--chart-raise", "#0d9488");
  var muted = colour("--pico-muted-color", "#646b79");
  var gridColour = "rgba(100, 116, 139, 0.14)";
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = muted;

  // The colour of a point's run of the usage line, by the server's zone.
  var zoneColour = { within: blue, overdraft: amber, at_hard_limit: red };
  var zoneName = { within: "within entitlement", overdraft: "in overdraft", at_hard_limit: "at the hard limit" };

  function alpha(hex, a) {
    var m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
    if (!m) { return hex; }
    return "rgba(" + parseInt(m[1], 16) + "," + parseInt(m[2], 16) + "," + parseInt(m[3], 16) + "," + a + ")";
  }

  // --- time: labels, ticks, where a moment falls --------------------------------------------
  var hourly = data.bucket === "hour";
  var bucketMs = hourly ? 3600e3 : 86400e3;
  var starts = points.concat(ahead).map(function (p) { return Date.parse(p.t); });
  function fmt(options) {
    return new Intl.DateTimeFormat("en-GB", Object.assign({ timeZone: "UTC" }, options));
  }
  var hm = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  var formats = {
    hour: fmt(hm),
    weekday: fmt({ weekday: "short", day: "numeric" }),
    day: fmt({ day: "numeric", month: "short" }),
    month: fmt({ month: "short", year: "numeric" }),
    title: fmt(hourly
      ? Object.assign({ weekday: "short", day: "numeric", month: "short" }, hm)
      : { weekday: "short", day: "numeric", month: "short", year: "numeric" }),
    moment: fmt(Object.assign({ day: "numeric", month: "short", year: "numeric" }, hm)),
    clock: fmt(hm)
  };

  // Tick steps (in buckets) and whether bucket i starts a step: hours on the hour, days at
  // midnight, weeks on Mondays, months on the 1st.
  var HOUR = 3600e3;
  var DAY = 86400e3;
  var steps = hourly
    ? [[1, HOUR], [2, 2 * HOUR], [3, 3 * HOUR], [6, 6 * HOUR], [12, 12 * HOUR], [24, DAY], [48, 2 * DAY], [168, "week"]]
    : [[1, DAY], [2, 2 * DAY], [7, "week"], [14, "fortnight"], [31, 1], [62, 2], [92, 3], [183, 6]];
  function startsStep(i, unit) {
    var t = starts[i];
    var d = new Date(t);
    if (unit === "week" || unit === "fortnight") {
      var monday = (Math.floor(t / DAY) + 3) % 7 === 0 && t % DAY === 0;
      return monday && (unit === "week" || Math.floor(t / (7 * DAY)) % 2 === 0);
    }
    if (typeof unit === "number" && unit < 12) { // months
      return d.getUTCDate() === 1 && t % DAY === 0 && d.getUTCMonth() % unit === 0;
    }
    return t % unit === 0;
  }
  function tickLabel(i, unit) {
    var d = new Date(starts[i]);
    if (hourly) {
      return d.getUTCHours() === 0 ? formats.weekday.format(d) : formats.hour.format(d);
    }
    return typeof unit === "number" && unit < 12 ? formats.month.format(d) : formats.day.format(d);
  }
  // Both charts share the ticks, chosen for the width: about one label per 48 px, or per
  // 72 px for months (their labels carry the year).
  function buildTicks(scale) {
    var step = steps[steps.length - 1];
    for (var s = 0; s < steps.length; s++) {
      var unit = steps[s][1];
      var months = !hourly && typeof unit === "number" && unit < 12;
      var room = Math.max(2, Math.floor(scale.width / (months ? 72 : 48)));
      if (total / steps[s][0] <= room) { step = steps[s]; break; }
    }
    var ticks = [];
    for (var i = 0; i < total; i++) {
      if (startsStep(i, step[1])) { ticks.push({ value: i, label: tickLabel(i, step[1]) }); }
    }
    scale.ticks = ticks.length ? ticks : [{ value: 0, label: tickLabel(0, step[1]) }];
  }
  function xScale() {
    return {
      type: "linear",
      min: -0.5,
      max: total - 0.5,
      offset: false, // bars would otherwise pad the axis and shift the buckets
      grid: { display: false },
      border: { color: gridColour },
      afterBuildTicks: buildTicks,
      ticks: {
        autoSkip: false,
        maxRotation: 0,
        callback: function (value, index, ticks) { return ticks[index].label; }
      }
    };
  }
  // Where a moment falls on the x axis (inside the bucket that holds it).
  function xOf(ms) {
    var i = 0;
    while (i + 1 < total && starts[i + 1] <= ms) { i++; }
    var into = Math.min(Math.max((ms - starts[i]) / bucketMs, 0), 1);
    return { bucket: i, x: i - 0.5 + into };
  }

  // --- the changes of the terms -------------------------------------------------------------
  var changes = (data.changes || []).map(function (c) {
    var at = xOf(Date.parse(c.t));
    var cut = c.summary.indexOf(" by ");
    return {
      x: at.x,
      bucket: at.bucket,
      at: Date.parse(c.t),
      label: cut > 0 ? c.summary.slice(0, cut) : c.summary,
      by: cut > 0 ? c.summary.slice(cut + 1) : "",
      summary: c.summary
    };
  });
  function changesIn(i) {
    return changes.filter(function (c) { return c.bucket === i; });
  }

  // --- temporary raises: bands over the buckets they lifted --------------------------------
  var raises = (data.raises || []).map(function (r) {
    var first = r.summary.split(" and ")[0]; // "+20 seats"
    return {
      from: xOf(Date.parse(r.from)).x,
      until: xOf(Date.parse(r.until)).x,
      status: r.status,
      summary: r.summary,
      // Longest first: the band shows the first that fits its width.
      labels: ["Raise " + r.summary, "Raise " + first, "Raise " + first.split(" ")[0]],
      scheduled: r.status === "scheduled"
    };
  });
  function raisesIn(i) {
    return raises.filter(function (r) { return r.from < i + 0.5 && r.until > i - 0.5; });
  }

  // --- the usage line: one run per point, risers between them ------------------------------
  var usage = [];       // {x, y}
  var runColour = [];   // colour of the segment that starts at usage[k]
  var runDashed = [];   // the segment that starts at usage[k] is the partial bucket's run
  function vertex(x, y, segColour, dashed) {
    usage.push({ x: x, y: y });
    runColour.push(segColour);
    runDashed.push(!!dashed);
  }
  points.forEach(function (p, i) {
    if (i > 0 && points[i - 1].peak !== p.peak) {
      // A riser at x = i - 0.5 from the previous run to this one. Its part above the entitled
      // line of the higher point is amber if that point is not within its entitlement.
      var prev = points[i - 1];
      var up = p.peak > prev.peak;
      var top = up ? p : prev;
      var lo = Math.min(p.peak, prev.peak);
      var hi = Math.max(p.peak, prev.peak);
      var cut = top.zone === "within" ? hi : Math.min(Math.max(lo, top.entitled), hi);
      var last = usage.length - 1;
      if (up) {
        runColour[last] = cut > lo ? blue : amber;
        if (cut > lo && cut < hi) { vertex(i - 0.5, cut, amber); }
      } else {
        runColour[last] = cut < hi ? amber : blue;
        if (cut > lo && cut < hi) { vertex(i - 0.5, cut, blue); }
      }
    }
    var own = zoneColour[p.zone] || blue;
    vertex(i - 0.5, p.peak, own, p.partial);
    vertex(i + 0.5, p.peak, own, p.partial); // until a riser says otherwise
  });

  // A line's run over each point, carried on at `now` (its value today) over the forecast.
  function run(value, now) {
    var line = [];
    points.forEach(function (p, i) {
      var y = value(p);
      line.push({ x: i - 0.5, y: y }, { x: i + 0.5, y: y });
    });
    ahead.forEach(function (d, k) {
      line.push({ x: n + k - 0.5, y: now }, { x: n + k + 0.5, y: now });
    });
    return line;
  }
  function distinct(values) {
    return values.filter(function (v, k) { return values.indexOf(v) === k; });
  }

  var entitledNow = data.entitled;
  var limitNow = data.hard_limit;
  var entitledSeen = distinct(points.map(function (p) { return p.entitled; }));
  var limitSeen = distinct(points.map(function (p) { return p.hard_limit; }));
  var hasLimit = limitSeen.some(function (v) { return v !== null; });
  var capSeen = distinct(points.map(function (p) { return p.customer_cap; }));
  var hasCap = capSeen.some(function (v) { return v !== null; });
  function lineLabel(name, now, seen) {
    var value = now === null ? "none" : now;
    return name + (seen.length > 1 ? " (now " + value + ")" : " (" + value + ")");
  }

  var anyOverdraft = points.some(function (p) { return p.zone !== "within" && p.peak > p.entitled; });
  var maxSeats = 0;
  points.forEach(function (p) {
    maxSeats = Math.max(maxSeats, p.peak, p.entitled, p.hard_limit || 0, p.customer_cap || 0);
  });
  maxSeats = Math.max(maxSeats, entitledNow, limitNow || 0);
  ahead.forEach(function (d) { maxSeats = Math.max(maxSeats, d.expected); });

  var datasets = [
    {
      type: "line",
      label: "Seats in use (peak)",
      data: usage,
      borderColor: blue,
      borderWidth: 2,
      pointRadius: 0,
      pointHoverRadius: 0,
      pointHitRadius: 0,
      fill: false,
      order: 2,
      segment: {
        borderColor: function (ctx) { return runColour[ctx.p0DataIndex]; },
        borderDash: function (ctx) { return runDashed[ctx.p0DataIndex] ? [4, 3] : undefined; }
      }
    },
    {
      type: "line",
      label: lineLabel("Entitled seats", entitledNow, entitledSeen),
      data: run(function (p) { return p.entitled; }, entitledNow),
      borderColor: green,
      backgroundColor: green,
      borderDash: [6, 4],
      borderWidth: 2,
      pointRadius: 0,
      pointHoverRadius: 0,
      pointHitRadius: 0,
      fill: false,
      order: 3
    }
  ];
  if (hasLimit) {
    datasets.push({
      type: "line",
      label: lineLabel("Hard limit", limitNow, limitSeen),
      data: run(function (p) { return p.hard_limit; }, limitNow),
      borderColor: red,
      backgroundColor: red,
      borderWidth: 2,
      pointRadius: 0,
      pointHoverRadius: 0,
      pointHitRadius: 0,
      fill: false,
      spanGaps: false,
      order: 3
    });
  }
  if (hasCap) {
    datasets.push({
      type: "line",
      label: lineLabel("Customer's cap", data.customer_cap, capSeen),
      data: run(function (p) { return p.customer_cap; }, data.customer_cap),
      borderColor: violet,
      backgroundColor: violet,
      borderDash: [2, 3],
      borderWidth: 2,
      pointRadius: 0,
      pointHoverRadius: 0,
      pointHitRadius: 0,
      fill: false,
      spanGaps: false,
      order: 3
    });
  }
  // --- the forecast: a dashed run per day ahead, over its range (the forecastBand plugin) ---
  var lineColour = { "entitled seats": green, "hard limit": red, "cap": violet };
  var crossings = []; // the lines it is expected to reach on a day drawn
  ((data.forecast && data.forecast.crossings) || []).forEach(function (c) {
    if (c.reached || c.t === null) { return; }
    var at = Date.parse(c.t);
    var k = ahead.findIndex(function (d) { return Date.parse(d.t) === at; });
    if (k < 0) { return; } // today, or past the days drawn: the note says when
    crossings.push({ i: n + k, seats: c.seats, name: c.name, label: "~" + c.label,
                     colour: lineColour[c.name] || marker });
  });
  if (ahead.length) {
    var expectedRuns = [];
    ahead.forEach(function (d, k) {
      expectedRuns.push({ x: n + k - 0.5, y: d.expected }, { x: n + k + 0.5, y: d.expected });
    });
    datasets.push({
      type: "line",
      label: "Forecast",
      data: expectedRuns,
      borderColor: blue,
      backgroundColor: alpha(blue, 0.18),
      borderDash: [5, 4],
      borderWidth: 2,
      pointRadius: 0,
      pointHoverRadius: 0,
      pointHitRadius: 0,
      fill: false,
      order: 2,
      // The risers between days (quiet weekends) paler than the days' runs.
      segment: {
        borderColor: function (ctx) {
          return ctx.p0.parsed.x === ctx.p1.parsed.x ? alpha(blue, 0.4) : undefined;
        }
      }
    });
    // One invisible point per day ahead, for the tooltip (as "Peak" below for the points).
    datasets.push({
      type: "line",
      label: "Forecast peak",
      forecastPoints: true,
      data: ahead.map(function (d, k) { return { x: n + k, y: d.expected }; }),
      showLine: false,
      pointRadius: 0,
      pointHitRadius: 0,
      pointHoverRadius: 4,
      pointHoverBorderWidth: 2,
      pointHoverBorderColor: "#fff",
      pointHoverBackgroundColor: blue,
      order: 1
    });
  }

  // One invisible point per bucket at its peak: what the tooltip points at (and what tests
  // read for the position of a bucket's run).
  datasets.push({
    type: "line",
    label: "Peak",
    bucketPoints: true,
    data: points.map(function (p, i) { return { x: i, y: p.peak }; }),
    showLine: false,
    pointRadius: 0,
    pointHitRadius: 0,
    pointHoverRadius: 4,
    pointHoverBorderWidth: 2,
    pointHoverBorderColor: "#fff",
    pointHoverBackgroundColor: points.map(function (p) { return zoneColour[p.zone] || blue; }),
    order: 1
  });

  // --- interaction: the whole bucket under the pointer -------------------------------------
  Chart.Interaction.modes.bucket = function (chart, e) {
    var area = chart.chartArea;
    if (!area || e.x < area.left || e.x > area.right) { return []; }
    var i = Math.round(chart.scales.x.getValueForPixel(e.x));
    if (i < 0 || i >= total) { return []; }
    var items = [];
    chart.data.datasets.forEach(function (ds, d) {
      var k = ds.bucketPoints ? i : ds.forecastPoints ? i - n : -1;
      if (k >= 0 && k < ds.data.length) {
        items.push({ element: chart.getDatasetMeta(d).data[k], datasetIndex: d, index: k });
      }
    });
    return items;
  };
  function tooltipTitle(items) {
    if (!items.length) { return ""; }
    if (items[0].dataset.forecastPoints) {
      return formats.title.format(new Date(ahead[items[0].dataIndex].t)) + " UTC · forecast";
    }
    var p = points[items[0].dataIndex];
    var title = formats.title.format(new Date(p.t)) + " UTC";
    if (p.partial) {
      title += " · so far, as of " + formats.clock.format(new Date(data.as_of));
    }
    return title;
  }
  var tooltipBase = {
    displayColors: false,
    padding: 10,
    caretPadding: 6,
    backgroundColor: "rgba(29, 36, 51, 0.94)",
    titleFont: { weight: "600" },
    footerFont: { weight: "normal", style: "italic" },
    footerMarginTop: 8,
    callbacks: { title: tooltipTitle }
  };

  // --- plugins: the current bucket, the areas under the use, changes of the terms ----------
  function bucketLeft(chart, i) { return chart.scales.x.getPixelForValue(i - 0.5); }
  function bucketRight(chart, i) { return chart.scales.x.getPixelForValue(i + 0.5); }

  // A translucent band behind the data over the time of each temporary raise (a scheduled one
  // paler), clipped to the plot; on the seats chart also a label at its top, the longest that
  // fits the band. What was drawn is kept on the chart (`$raiseBands`) for tests to read.
  function raiseBands(withLabels) {
    function edges(chart, r) {
      var area = chart.chartArea;
      var x = chart.scales.x;
      var left = Math.max(x.getPixelForValue(r.from), area.left);
      var right = Math.min(x.getPixelForValue(r.until), area.right);
      return right > left ? { left: left, right: Math.max(right, left + 2) } : null;
    }
    return {
      id: "raiseBands",
      beforeDatasetsDraw: function (chart) {
        var area = chart.chartArea;
        var ctx = chart.ctx;
        ctx.save();
        ctx.beginPath();
        ctx.rect(area.left, area.top, area.right - area.left, area.bottom - area.top);
        ctx.clip();
        raises.forEach(function (r) {
          var band = edges(chart, r);
          if (!band) { return; }
          ctx.fillStyle = alpha(teal, r.scheduled ? 0.06 : 0.12);
          ctx.fillRect(band.left, area.top, band.right - band.left, area.bottom - area.top);
        });
        ctx.restore();
      },
      afterDatasetsDraw: function (chart) {
        var area = chart.chartArea;
        var ctx = chart.ctx;
        var drawn = [];
        ctx.save();
        ctx.font = "600 11px " + Chart.defaults.font.family;
        ctx.textBaseline = "top";
        ctx.fillStyle = teal;
        raises.forEach(function (r) {
          var band = edges(chart, r);
          if (!band) { return; }
          var label = null;
          if (withLabels) {
            label = r.labels.find(function (text) {
              return ctx.measureText(text).width + 12 <= band.right - band.left;
            }) || null;
            if (label) { ctx.fillText(label, band.left + 6, area.top + 5); }
          }
          drawn.push({ left: band.left, right: band.right, top: area.top, bottom: area.bottom,
                       label: label, status: r.status, summary: r.summary });
        });
        ctx.restore();
        chart.$raiseBands = drawn;
      }
    };
  }

  // The bucket that holds the current hour: shaded, its figures are "so far".
  var partialBand = {
    id: "partialBand",
    beforeDatasetsDraw: function (chart) {
      var area = chart.chartArea;
      var ctx = chart.ctx;
      ctx.save();
      ctx.fillStyle = "rgba(100, 116, 139, 0.08)";
      points.forEach(function (p, i) {
        if (!p.partial) { return; }
        var left = Math.max(bucketLeft(chart, i), area.left);
        var right = Math.min(bucketRight(chart, i), area.right);
        ctx.fillRect(left, area.top, right - left, area.bottom - area.top);
      });
      ctx.restore();
    }
  };

  // The forecast's range, from its low to its high, a run per day behind its dashed line; and
  // a ring where the expected peak meets each line it reaches, labelled with the day. What was
  // drawn is kept on the chart (`$forecast`) for tests to read.
  var forecastBand = {
    id: "forecastBand",
    beforeDatasetsDraw: function (chart) {
      if (!ahead.length) { return; }
      var x = chart.scales.x;
      var y = chart.scales.y;
      var area = chart.chartArea;
      var ctx = chart.ctx;
      ctx.save();
      ctx.beginPath();
      ctx.rect(area.left, area.top, area.right - area.left, area.bottom - area.top);
      ctx.clip();
      ctx.beginPath();
      ahead.forEach(function (d, k) {
        var top = y.getPixelForValue(d.high);
        ctx.lineTo(x.getPixelForValue(n + k - 0.5), top);
        ctx.lineTo(x.getPixelForValue(n + k + 0.5), top);
      });
      for (var k = ahead.length - 1; k >= 0; k--) {
        var bottom = y.getPixelForValue(ahead[k].low);
        ctx.lineTo(x.getPixelForValue(n + k + 0.5), bottom);
        ctx.lineTo(x.getPixelForValue(n + k - 0.5), bottom);
      }
      ctx.closePath();
      ctx.fillStyle = alpha(blue, 0.2);
      ctx.fill();
      ctx.restore();
    },
    afterDatasetsDraw: function (chart) {
      if (!ahead.length) { return; }
      var x = chart.scales.x;
      var y = chart.scales.y;
      var area = chart.chartArea;
      var ctx = chart.ctx;
      var rings = [];
      ctx.save();
      ctx.font = "600 11px " + Chart.defaults.font.family;
      ctx.textAlign = "center";
      crossings.forEach(function (c) {
        var cx = x.getPixelForValue(c.i);
        var cy = y.getPixelForValue(c.seats);
        ctx.beginPath();
        ctx.arc(cx, cy, 5, 0, 2 * Math.PI);
        ctx.fillStyle = "#fff";
        ctx.fill();
        ctx.lineWidth = 2;
        ctx.strokeStyle = c.colour;
        ctx.stroke();
        // Above the ring, or under it where the plot's top is too near.
        var below = cy - 10 - 11 < area.top;
        ctx.textBaseline = below ? "top" : "bottom";
        var width = ctx.measureText(c.label).width;
        var tx = Math.min(Math.max(cx, area.left + width / 2 + 2), area.right - width / 2 - 2);
        var ty = below ? cy + 9 : cy - 9;
        ctx.lineWidth = 3;
        ctx.strokeStyle = "rgba(255, 255, 255, 0.9)";
        ctx.strokeText(c.label, tx, ty);
        ctx.fillStyle = c.colour;
        ctx.fillText(c.label, tx, ty);
        rings.push({ x: cx, y: cy, label: c.label, seats: c.seats, name: c.name });
      });
      ctx.restore();
      chart.$forecast = {
        days: ahead.length,
        left: x.getPixelForValue(n - 0.5),
        right: x.getPixelForValue(total - 0.5),
        crossings: rings
      };
    }
  };

  // The areas under the usage, each painted once as one path (no seams between buckets, no
  // blend of colours): blue up to the use or, for a point not within its entitlement, up to
  // the entitled line it was judged by; amber from that line up to the use, in the zone's own
  // amber: the overdraft is what the chart is about, so its area keeps 3:1 against the card
  // (WCAG 1.4.11; a paler tint was 1.4-1.9:1).
  function mix(hex, a) { // `hex` at opacity `a` over white, opaque
    var m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
    if (!m) { return hex; }
    return "rgb(" + [m[1], m[2], m[3]].map(function (h) {
      return Math.round(255 - a * (255 - parseInt(h, 16)));
    }).join(",") + ")";
  }
  var usageAreas = {
    id: "usageAreas",
    beforeDatasetsDraw: function (chart) {
      var x = chart.scales.x;
      var y = chart.scales.y;
      var ctx = chart.ctx;
      var area = chart.chartArea;
      var zero = y.getPixelForValue(0);
      ctx.save();
      ctx.beginPath();
      ctx.rect(area.left, area.top, area.right - area.left, area.bottom - area.top);
      ctx.clip();
      ctx.beginPath();
      ctx.moveTo(x.getPixelForValue(-0.5), zero);
      points.forEach(function (p, i) {
        var top = y.getPixelForValue(p.zone === "within" ? p.peak : Math.min(p.peak, p.entitled));
        ctx.lineTo(x.getPixelForValue(i - 0.5), top);
        ctx.lineTo(x.getPixelForValue(i + 0.5), top);
      });
      ctx.lineTo(x.getPixelForValue(n - 0.5), zero);
      ctx.closePath();
      ctx.fillStyle = alpha(blue, 0.1);
      ctx.fill();
      ctx.beginPath();
      points.forEach(function (p, i) {
        if (p.zone === "within" || p.peak <= p.entitled) { return; }
        var left = x.getPixelForValue(i - 0.5);
        var top = y.getPixelForValue(p.peak);
        ctx.rect(left, top, x.getPixelForValue(i + 0.5) - left, y.getPixelForValue(p.entitled) - top);
      });
      ctx.fillStyle = amber;
      ctx.fill();
      ctx.restore();
    }
  };

  // A dashed line where the terms changed; on the seats chart also a flag in a strip above the
  // plot (a layout box, so flags never cover the lines) with the change in short, beside the
  // flag where it fits before the next one (else without text). The full summary is in the
  // tooltip of that bucket and in the list under the chart.
  function changeMarkers(withFlags) {
    var flags = withFlags && changes.length > 0;
    var strip = {
      position: "top",
      weight: -10,
      fullSize: false,
      options: {},
      isHorizontal: function () { return true; },
      update: function (width) { this.width = width; this.height = flags ? 20 : 0; },
      draw: function () {}
    };
    return {
      id: "changeMarkers",
      start: function (chart) { if (flags) { Chart.layouts.addBox(chart, strip); } },
      stop: function (chart) { if (flags) { Chart.layouts.removeBox(chart, strip); } },
      afterDatasetsDraw: function (chart) {
        var area = chart.chartArea;
        var ctx = chart.ctx;
        var xs = changes.map(function (c) {
          return Math.round(chart.scales.x.getPixelForValue(c.x)) + 0.5;
        });
        var flagY = strip.bottom - 7;
        var drawn = [];
        var textEnd = -Infinity;
        ctx.save();
        ctx.font = "600 11px " + Chart.defaults.font.family;
        ctx.textBaseline = "middle";
        changes.forEach(function (c, k) {
          var x = xs[k];
          ctx.strokeStyle = marker;
          ctx.lineWidth = 1;
          ctx.setLineDash([3, 3]);
          ctx.beginPath();
          ctx.moveTo(x, flags ? flagY : area.top);
          ctx.lineTo(x, area.bottom);
          ctx.stroke();
          ctx.setLineDash([]);
          var seen = { x: x, summary: c.summary, label: null };
          if (flags) {
            ctx.fillStyle = marker;
            ctx.beginPath();
            ctx.moveTo(x - 5, flagY - 5);
            ctx.lineTo(x + 5, flagY - 5);
            ctx.lineTo(x, flagY + 2);
            ctx.closePath();
            ctx.fill();
            var width = ctx.measureText(c.label).width;
            var next = k + 1 < xs.length ? xs[k + 1] - 8 : area.right;
            var previous = k > 0 ? xs[k - 1] + 8 : area.left; // never over the flag before
            var left = null;
            if (x + 8 + width <= next) {
              left = x + 8;
            } else if (x - 8 - width >= Math.max(textEnd + 8, previous, area.left)) {
              left = x - 8 - width;
            }
            if (left !== null) {
              ctx.fillStyle = "#1d2433";
              ctx.fillText(c.label, left, flagY - 2);
              textEnd = left + width;
              seen.label = c.label;
            }
          }
          drawn.push(seen);
        });
        ctx.restore();
        chart.$changeMarkers = drawn;
      }
    };
  }

  // Both plots keep the same left edge: the wider of the two y axes sets both.
  var yWidth = { value: 0 };
  function sameWidth(scale) {
    yWidth.value = Math.max(yWidth.value, scale.width);
    scale.width = yWidth.value;
  }

  // A phone gets a tighter legend, so the plot keeps its height.
  function legendSize(width) {
    var narrow = width < 520;
    return { font: { size: narrow ? 11 : 12 }, padding: narrow ? 8 : 14, pointStyleWidth: narrow ? 18 : 26 };
  }
  var seatsChart = new Chart(canvas, {
    data: { datasets: datasets },
    plugins: [raiseBands(true), usageAreas, partialBand, forecastBand, changeMarkers(true)],
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      onResize: function (chart, size) {
        Object.assign(chart.options.plugins.legend.labels, legendSize(size.width));
      },
      layout: { padding: { right: 12 } },
      interaction: { mode: "bucket", intersect: false },
      plugins: {
        legend: {
          position: "top",
          align: "start",
          onClick: function () {},
          labels: Object.assign({
            usePointStyle: true,
            boxHeight: 8,
            filter: function (item, chartData) {
              var ds = chartData.datasets[item.datasetIndex];
              return !(ds && (ds.bucketPoints || ds.forecastPoints));
            },
            generateLabels: function (chart) {
              var items = Chart.defaults.plugins.legend.labels.generateLabels(chart);
              items.forEach(function (item) {
                item.pointStyle = "line";
                item.lineWidth = 2.5;
                var ds = chart.data.datasets[item.datasetIndex];
                if (ds && ds.borderDash) { item.lineDash = ds.borderDash; }
              });
              if (anyOverdraft) {
                var usageAt = items.findIndex(function (item) { return item.datasetIndex === 0; });
                items.splice(usageAt + 1, 0, {
                  text: "Overdraft",
                  pointStyle: "rect",
                  fillStyle: amber,
                  strokeStyle: amber,
                  lineWidth: 1,
                  hidden: false,
                  datasetIndex: -1
                });
              }
              if (raises.length) {
                items.push({
                  text: "Temporary raise",
                  pointStyle: "rect",
                  fillStyle: mix(teal, 0.2),
                  strokeStyle: mix(teal, 0.5),
                  lineWidth: 1,
                  hidden: false,
                  datasetIndex: -1
                });
              }
              return items;
            }
          }, legendSize(canvas.clientWidth))
        },
        tooltip: Object.assign({}, tooltipBase, {
          callbacks: {
            title: tooltipTitle,
            label: function (item) {
              if (item.dataset.forecastPoints) {
                var d = ahead[item.dataIndex];
                return [
                  "About " + Math.round(d.expected) + " seats in use at the peak",
                  "Likely between " + Math.round(d.low) + " and " + Math.round(d.high)
                ];
              }
              var p = points[item.dataIndex];
              return [
                p.peak + " seats in use (peak): " + (zoneName[p.zone] || p.zone),
                "Entitled " + p.entitled + " · hard limit " + (p.hard_limit === null ? "none" : p.hard_limit) +
                  (p.customer_cap === null ? "" : " · capped at " + p.customer_cap),
                p.denials === 1 ? "1 activation denied" : p.denials + " activations denied"
              ];
            },
            footer: function (items) {
              if (!items.length) { return []; }
              if (items[0].dataset.forecastPoints) {
                return crossings.filter(function (c) { return c.i === n + items[0].dataIndex; })
                  .map(function (c) { return "Expected to reach the " + c.name + " (" + c.seats + ")"; });
              }
              // Two lines (what, then by whom) keep the tooltip narrow enough for a phone.
              var lines = [];
              changesIn(items[0].dataIndex).forEach(function (c) {
                lines.push(formats.clock.format(new Date(c.at)) + " UTC: " + c.label);
                if (c.by) { lines.push(c.by); }
              });
              raisesIn(items[0].dataIndex).forEach(function (r) {
                lines.push("Temporary raise" + (r.scheduled ? " (scheduled)" : "") + ": " + r.summary);
              });
              return lines;
            }
          }
        })
      },
      scales: {
        x: xScale(),
        y: {
          position: "left",
          beginAtZero: true,
          suggestedMax: Math.ceil(maxSeats * 1.1),
          title: { display: true, text: "Seats" },
          border: { display: false },
          grid: { color: gridColour },
          ticks: { precision: 0 },
          afterFit: sameWidth
        }
      }
    }
  });

  // --- denials: their own panel and axis, directly under the seats ---------------------------
  var denialsCanvas = document.getElementById("denials-chart");
  if (denialsCanvas) {
    var denials = points.map(function (p) { return p.denials; });
    var anyDenials = denials.some(function (v) { return v > 0; });
    var noDenials = {
      id: "noDenials",
      afterDatasetsDraw: function (chart) {
        if (anyDenials) { return; }
        var area = chart.chartArea;
        var ctx = chart.ctx;
        var text = "No activations denied in this range";
        var x = (area.left + area.right) / 2;
        var y = (area.top + area.bottom) / 2;
        ctx.save();
        ctx.font = "12px " + Chart.defaults.font.family;
        var width = ctx.measureText(text).width;
        ctx.fillStyle = "#fff";
        ctx.fillRect(x - width / 2 - 6, y - 9, width + 12, 18);
        ctx.fillStyle = muted;
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        ctx.fillText(text, x, y);
        ctx.restore();
      }
    };
    new Chart(denialsCanvas, {
      data: {
        datasets: [{
          type: "bar",
          label: "Denials",
          bucketPoints: true,
          data: points.map(function (p, i) { return { x: i, y: p.denials }; }),
          backgroundColor: points.map(function (p) { return alpha(red, p.partial ? 0.4 : 0.8); }),
          borderWidth: 0,
          barPercentage: 1,
          categoryPercentage: 0.8,
          maxBarThickness: 28
        }]
      },
      plugins: [raiseBands(false), partialBand, changeMarkers(false), noDenials],
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        layout: { padding: { right: 12 } },
        interaction: { mode: "bucket", intersect: false },
        plugins: {
          legend: { display: false },
          tooltip: Object.assign({}, tooltipBase, {
            callbacks: {
              title: tooltipTitle,
              label: function (item) {
                var count = points[item.dataIndex].denials;
                return count === 1 ? "1 activation denied" : count + " activations denied";
              }
            }
          })
        },
        scales: {
          x: xScale(),
          y: {
            position: "left",
            beginAtZero: true,
            suggestedMax: 1,
            title: { display: true, text: "Denials" },
            border: { display: false },
            grid: { color: gridColour },
            ticks: { precision: 0, maxTicksLimit: 3 },
            afterFit: sameWidth
          }
        }
      }
    });
    if (seatsChart.scales.y.width < yWidth.value) {
      seatsChart.update("none");
    }
  }

  // The list of changes under the chart: the server writes ISO times, shown here as the
  // tooltips show them.
  Array.prototype.forEach.call(document.querySelectorAll(".chart-changes time[datetime]"), function (el) {
    var ms = Date.parse(el.getAttribute("datetime"));
    if (!isNaN(ms)) { el.textContent = formats.moment.format(new Date(ms)) + " UTC"; }
  });
})();
