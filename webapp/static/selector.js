/* Point selectors submit themselves when a meter is chosen (no inline handler: see the CSP). */
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("form[data-autosubmit] select"), function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();
