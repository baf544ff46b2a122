// Entitlement form (account team): show the hard limit the overdraft allowance gives, and
// only the amount input of the chosen allowance. The server computes the same limit
// (portal/team_forms.py, hard_limit_for); this is a preview.
(function () {
  "use strict";
  var form = document.querySelector("form.entitlement-form");
  if (!form) return;
  var output = document.getElementById("hard-limit-preview");

  function number(name) {
    var input = form.elements.namedItem(name);
    if (!input || input.value.trim() === "") return null;
    var value = Number(input.value);
    return Number.isInteger(value) && value >= 0 ? value : NaN;
  }

  function mode() {
    var checked = form.querySelector("input[name=overdraft]:checked");
    return checked ? checked.value : "none";
  }

  function hardLimit() {
    var seats = number("seats");
    if (seats === null || Number.isNaN(seats)) return null;
    switch (mode()) {
      case "unlimited":
        return "unlimited";
      case "seats": {
        var extra = number("overdraft_seats");
        return Number.isNaN(extra) ? null : seats + (extra || 0);
      }
      case "percent": {
        var percent = number("overdraft_percent");
        return Number.isNaN(percent) ? null : seats + Math.ceil((seats * (percent || 0)) / 100);
      }
      default:
        return seats;
    }
  }

  function update() {
    var limit = hardLimit();
    output.textContent = "Hard limit: " + (limit === null ? "—" : limit);
    form.querySelectorAll(".overdraft-amount").forEach(function (box) {
      box.hidden = box.dataset.mode !== mode();
    });
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
