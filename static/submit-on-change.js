// Selects marked data-submit-on-change (the client switcher) send their form as soon as the
// choice changes; without JavaScript the form has its own button. Not an inline onchange:
// the Content-Security-Policy allows no inline script.
(function () {
  document.querySelectorAll("select[data-submit-on-change]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();
