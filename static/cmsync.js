// Show only the schedule fields that apply to the chosen import frequency.
// Without JavaScript every field stays visible and the server still validates them all.
(function () {
  const radios = document.querySelectorAll('input[name="frequency"]');
  function update() {
    const chosen = document.querySelector('input[name="frequency"]:checked');
    const value = chosen ? chosen.value : "";
    document.querySelectorAll("[data-show-for]").forEach(function (el) {
      el.hidden = !el.dataset.showFor.split(" ").includes(value);
    });
  }
  radios.forEach(function (r) { r.addEventListener("change", update); });
  update();
})();
