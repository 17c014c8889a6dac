// The tab bar on a narrow screen: the current tab is scrolled into view, and an arrow with a
// fade shows on each side where more tabs are hidden (clicking it scrolls that way). Without
// JavaScript the bar still scrolls sideways; only the cue is missing.
(function () {
  const bar = document.querySelector(".tabs-bar");
  if (!bar) return;
  const tabs = bar.querySelector(".tabs");
  const before = bar.querySelector(".tabs-more.before");
  const after = bar.querySelector(".tabs-more.after");
  function update() {
    const hidden = tabs.scrollWidth - tabs.clientWidth;
    before.hidden = tabs.scrollLeft <= 1;
    after.hidden = tabs.scrollLeft >= hidden - 1;
    bar.classList.toggle("overflowing", hidden > 1);
  }
  const current = tabs.querySelector("[aria-current=page]");
  if (current) {
    const left = current.offsetLeft - (tabs.clientWidth - current.offsetWidth) / 2;
    tabs.scrollLeft = Math.max(0, left);
  }
  [before, after].forEach(function (button) {
    button.addEventListener("click", function () {
      const step = Number(button.dataset.scroll) * tabs.clientWidth * 0.7;
      tabs.scrollBy({ left: step, behavior: "smooth" });
    });
  });
  tabs.addEventListener("scroll", update, { passive: true });
  window.addEventListener("resize", update);
  update();
})();
