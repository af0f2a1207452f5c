/* Relevé charts: draws the JSON a page embeds (#page-data) with plotly.js, served by the app.
 * While the page says data is pending, its JSON twin is polled every 5 s; the charts and the
 * summary are redrawn when the data arrives, and polling stops. No data is ever built into JS source. */
(function () {
  "use strict";
  var POLL_MS = 5000;
  var MAX_POLLS = 60; // 5 minutes: Enedis may simply not have published the day yet
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

  function poll(url, count) {
    if (count >= MAX_POLLS) { return; }
    window.setTimeout(function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (data) {
          if (!data.pending) {
            draw(data.charts);
            var summary = document.getElementById("summary");
            if (summary && typeof data.summary_html === "string") { summary.innerHTML = data.summary_html; }
            setPending(false);
          } else {
            poll(url, count + 1);
          }
        })
        .catch(function () { poll(url, count + 1); });
    }, POLL_MS);
  }

  var holder = document.getElementById("page-data");
  if (!holder) { return; }
  var page = JSON.parse(holder.textContent);
  draw(page.charts);
  setPending(!!page.pending);
  if (page.pending && page.api) { poll(page.api, 0); }
})();
