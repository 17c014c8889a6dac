// The rule form's condition rows: empty rows after the first one stay hidden until
// "Add a condition" shows the next. Without JavaScript every row is shown.
(function () {
  const button = document.querySelector("[data-add-condition]");
  if (!button) return;
  function next() { return document.querySelector("tr.condition[hidden]"); }
  button.hidden = !next();
  button.addEventListener("click", function () {
    const row = next();
    if (row) {
      row.hidden = false;
      row.querySelector("select").focus();
    }
    button.hidden = !next();
  });
})();
