// Live progress of a sync run: poll its JSON while it is queued or running.
(function () {
  const box = document.querySelector("[data-progress-url]");
  if (!box || box.dataset.active !== "1") return;
  function show(run) {
    box.querySelectorAll("[data-field]").forEach(function (el) {
      const value = run[el.dataset.field];
      if (el.dataset.field === "last_error" || "hideEmpty" in el.dataset) { el.hidden = !value; }
      if (value !== undefined && value !== null) el.textContent = value;
    });
    box.querySelectorAll("tr[data-step]").forEach(function (row) {
      const counts = run.counts[row.dataset.step] || {};
      row.classList.toggle("current", run.step === row.dataset.step);
      row.querySelectorAll("[data-count]").forEach(function (cell) {
        cell.textContent = counts[cell.dataset.count] || 0;
      });
    });
    const status = box.querySelector(".status");
    if (status) status.className = "status status-" + run.status;
  }
  function poll() {
    fetch(box.dataset.progressUrl, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (run) {
        show(run);
        const cancel = box.querySelector("#cancel-run");
        if (cancel && run.cancel_note) cancel.hidden = true;  // already asked to stop
        if (run.status === "queued" || run.status === "running") {
          setTimeout(poll, 1000);
        } else {
          window.location.reload();  // the messages list and final figures
        }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
