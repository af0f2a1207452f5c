/* Relevé charts: draws the JSON a page embeds (#page-data) with plotly.js, served by the app.
 * While the page says data is pending, its JSON twin is polled every 5 s; the charts and the
 * summary are redrawn when the data arrives, and polling stops. No data is ever built into JS source. */
(function () {
  "use strict";
  var POLL_MS = 5000;
  var MAX_POLLS = 60; // 5 minutes: Enedis may simply not have published the day yet (a page may say more)
  var config = { responsive: true, displaylogo: false,
                 modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  var baseLayout = { margin: { t: 20, r: 20, b: 40, l: 55 }, hovermode: "x unified",
                     legend: { orientation: "h", y: -0.2 }, separators: ", " };

  function merge(a, b) {
    var out = {}, k;
    for (k in a) { if (Object.prototype.hasOwnProperty.call(a, k)) { out[k] = a[k]; } }
    for (k in b) { if (Object.prototype.hasOwnProperty.call(b, k)) { out[k] = b[k]; } }
    return out;
  }

  function draw(charts) {
    if (!window.Plotly || !charts) { return; }
    var nodes = document.querySelectorAll(".chart[data-chart]");
    Array.prototype.forEach.call(nodes, function (node) {
      var spec = charts[node.getAttribute("data-chart")];
      if (!spec) { return; }
      window.Plotly.react(node, spec.traces, merge(baseLayout, spec.layout || {}), config);
    });
  }

  function setPending(pending) {
    var notice = document.getElementById("pending");
    if (notice) { notice.hidden = !pending; }
  }

  function redraw(data) {
    var summary = document.getElementById("summary");
    if (summary && typeof data.summary_html === "string") { summary.innerHTML = data.summary_html; }
    draw(data.charts); // after the summary: a page may hold its charts inside it
  }

  // `live`: the page redraws at every answer, not only the last (days keep arriving for a while).
  function poll(url, count, limit, live) {
    if (count >= limit) { return; }
    window.setTimeout(function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (data) {
          var progress = document.getElementById("progress");
          if (progress && typeof data.progress_html === "string") { progress.innerHTML = data.progress_html; }
          if (!data.pending) {
            redraw(data);
            setPending(false);
          } else {
            if (live) { redraw(data); }
            poll(url, count + 1, limit, live);
          }
        })
        .catch(function () { poll(url, count + 1, limit, live); });
    }, POLL_MS);
  }

  var holder = document.getElementById("page-data");
  if (!holder) { return; }
  var page = JSON.parse(holder.textContent);
  draw(page.charts);
  setPending(!!page.pending);
  if (page.pending && page.api) { poll(page.api, 0, page.max_polls || MAX_POLLS, !!page.live); }
})();
