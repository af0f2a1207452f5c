/* Relevé dashboard: fills the meter cards in while onboarding and backfill run (a static file:
 * the Content-Security-Policy allows no inline script). */
(function () {
  // Fill the cards in while onboarding/backfill runs: one request every 5 s, and only while something is pending.
  var root = document.getElementById("points");
  if (!root || root.dataset.pending !== "true") return;
  var url = root.dataset.stateUrl, polls = 0, MAX_POLLS = 120;
  function text(card, selector, value) {
    var el = card.querySelector(selector);
    if (el && value !== undefined) el.textContent = value;
  }
  function update(point) {
    var card = root.querySelector('[data-pdl="' + point.pdl + '"]');
    if (!card) return false;
    if (card.dataset.status !== point.status) return true;  // a new message and button: redraw once
    text(card, ".kind", point.kind_label);
    if (point.contract) {
      text(card, ".subscribed-power", point.contract.subscribed_power || "—");
      text(card, ".offpeak-hours", point.contract.offpeak_hours || "aucune");
      text(card, ".tariff", point.contract.distribution_tariff || "—");
    }
    if (point.last_refreshed) text(card, ".freshness", "à jour au " + point.last_refreshed);
    if (point.progress.percent !== null) {
      text(card, ".progress-text", "Historique : " + point.progress.percent + " %");
      var bar = card.querySelector("progress");
      if (bar) bar.value = point.progress.percent;
    }
    return false;
  }
  function poll() {
    polls += 1;
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (state) {
        var known = root.querySelectorAll("[data-pdl]").length;
        var redraw = state.points.length !== known;
        state.points.forEach(function (p) { redraw = update(p) || redraw; });
        if (redraw) { window.location.reload(); return; }
        if (state.pending && polls < MAX_POLLS) window.setTimeout(poll, 5000);
      })
      .catch(function () { if (polls < MAX_POLLS) window.setTimeout(poll, 15000); });
  }
  window.setTimeout(poll, 5000);
})();
