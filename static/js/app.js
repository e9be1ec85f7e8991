// Progressive enhancements; every page works without them.
(function () {
  "use strict";
  // Move focus to the error summary so screen-reader and keyboard users hear the problems first.
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.focus();
    // A URL fragment (e.g. from "Skip to main content") moves focus on load; take it back.
    window.addEventListener("load", function () { summary.focus(); });
  }

  // Ask before irreversible actions (buttons with data-confirm).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });
})();
