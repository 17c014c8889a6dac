// Reloads the page after the data-seconds of its script tag, while something it shows is
// still running (an import). Not inline: the Content-Security-Policy allows no inline script.
(function () {
  const seconds = Number(document.currentScript.dataset.seconds || 3);
  setTimeout(function () { location.reload(); }, seconds * 1000);
})();
